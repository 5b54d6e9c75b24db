// Client payment pages: the Stripe Card Element, saving a card (SetupIntent confirmed in the
// browser, 3-D Secure included), adding a bank account for SEPA Direct Debit, paying with a new
// card, the pay page's surcharge line and total, and confirming a payment the bank wants
// authenticated. Card and bank details go from the browser to Stripe only: the portal receives
// the SetupIntent's id. Works with Stripe.js and with localstripe's fake (a card element only:
// the IBAN is a plain input passed to confirmSepaDebitSetup as {iban}, which Stripe.js accepts
// as well as its IBAN Element).
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function showError(form, message) {
    var box = form.querySelector("#card-errors, [data-errors]");
    if (box) box.textContent = message || "";
  }

  function setBusy(form, busy) {
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (button) {
      button.disabled = busy;
    });
  }

  function cardForm(form) {
    if (typeof window.Stripe !== "function") {
      showError(form, "The card form could not load. Check your connection and reload the page.");
      return null;
    }
    var stripe = window.Stripe(form.dataset.publishableKey);
    var card = stripe.elements().create("card");
    card.mount("#card-element");
    return { stripe: stripe, card: card };
  }

  // A SetupIntent from the portal, for Stripe.js to confirm with what the client entered.
  function requestSetup(form, kind) {
    var body = new URLSearchParams();
    body.set("kind", kind);
    return fetch(form.dataset.setupUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
    }).then(function (answer) {
      return answer.json().then(function (data) {
        if (!answer.ok) throw new Error(data.error || "The payment form could not be prepared.");
        return data;
      });
    });
  }

  // Post the form with the confirmed SetupIntent's id (the portal reads the rest from Stripe).
  function submitConfirmed(form, setupId) {
    form.querySelector("[data-setup-id]").value = setupId;
    form.dataset.confirmed = "1";
    form.submit();
  }

  function confirmNewCard(form, kit) {
    return requestSetup(form, "card")
      .then(function (setup) {
        return kit.stripe.confirmCardSetup(setup.client_secret, { payment_method: { card: kit.card } });
      })
      .then(function (result) {
        if (result.error) throw new Error(result.error.message || "The card was not accepted.");
        return result.setupIntent.id;
      });
  }

  function bindCardForm(form, needsCard) {
    var kit = cardForm(form);
    if (!kit) return;
    form.addEventListener("submit", function (event) {
      if (!needsCard() || form.dataset.confirmed === "1") return;
      event.preventDefault();
      showError(form, "");
      setBusy(form, true);
      confirmNewCard(form, kit)
        .then(function (setupId) { submitConfirmed(form, setupId); })
        .catch(function (error) {
          setBusy(form, false);
          showError(form, error.message);
        });
    });
  }

  // Amounts in hundredths, as integers: the surcharge rounds half up to the cent as the server's.
  function toCents(text) {
    var value = parseFloat(String(text || "").replace(/,/g, ""));
    return isFinite(value) && value > 0 ? Math.round(value * 100) : 0;
  }

  function formatCents(cents) {
    return (cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function surchargeCents(amountCents, percentText, capText) {
    var rate = Math.round(parseFloat(percentText || "0") * 10000); // percent in 1/10000ths
    if (!(rate > 0)) return 0;
    var cents = Math.floor((amountCents * rate + 500000) / 1000000);
    var cap = toCents(capText);
    return cap > 0 ? Math.min(cents, cap) : cents;
  }

  // The pay page's summary: the invoices' total, the card surcharge as its own line when the
  // chosen method is a credit card, and what will be charged. The surcharge shown is posted
  // with the form: the server charges it only if it is the one it computes.
  function bindSummary(form) {
    var summary = form.querySelector("[data-pay-summary]");
    var shown = form.querySelector("[data-surcharge-shown]");
    if (!summary || !shown) return function () {};
    var update = function () {
      var amount = 0;
      Array.prototype.forEach.call(form.querySelectorAll("input[name=invoice]:checked"), function (box) {
        var input = form.querySelector("input[name='amount-" + box.value + "']");
        amount += input ? toCents(input.value) : 0;
      });
      var chosen = form.querySelector("input[name=method]:checked");
      var percent = summary.dataset.surchargePercent;
      var surcharged = !!chosen && chosen.hasAttribute("data-surcharged");
      var unknown = !!chosen && chosen.hasAttribute("data-surcharge-unknown") && parseFloat(percent) > 0;
      var surcharge = surcharged ? surchargeCents(amount, percent, summary.dataset.surchargeCap) : 0;
      summary.querySelector("[data-summary-amount]").textContent = formatCents(amount);
      summary.querySelector("[data-summary-surcharge]").hidden = !surcharged;
      summary.querySelector("[data-summary-surcharge-amount]").textContent = formatCents(surcharge);
      summary.querySelector("[data-summary-surcharge-unknown]").hidden = !unknown;
      summary.querySelector("[data-summary-total]").textContent = formatCents(amount + surcharge);
      shown.value = (surcharge / 100).toFixed(2);
    };
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
    return update;
  }

  var pay = document.querySelector("form[data-payments-form=pay]");
  if (pay) {
    var newCard = pay.querySelector("[data-new-card]");
    var radios = pay.querySelectorAll("input[name=method]");
    var usesNewCard = function () {
      var chosen = pay.querySelector("input[name=method]:checked");
      return !!chosen && chosen.value === "new";
    };
    var updateSummary = bindSummary(pay);
    pay.addEventListener("submit", function () { updateSummary(); });
    // On the step confirming a surcharge the card entered is already confirmed: no card form.
    if (newCard) {
      var toggle = function () { newCard.hidden = !usesNewCard(); };
      Array.prototype.forEach.call(radios, function (radio) { radio.addEventListener("change", toggle); });
      toggle();
      bindCardForm(pay, usesNewCard);
    }
    // A second click while the first submit is under way would only resubmit the same attempt.
    pay.addEventListener("submit", function () {
      if (!usesNewCard() || pay.dataset.confirmed === "1") setBusy(pay, true);
    });
  }

  var addMethod = document.querySelector("form[data-payments-form=add-method]");
  if (addMethod) bindCardForm(addMethod, function () { return true; });

  // An IBAN's check digits (ISO 13616, mod 97): a typo is caught before anything is sent.
  function ibanValid(iban) {
    if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$/.test(iban)) return false;
    var moved = iban.slice(4) + iban.slice(0, 4);
    var remainder = 0;
    for (var i = 0; i < moved.length; i++) {
      var code = moved.charCodeAt(i);
      var digits = code >= 65 ? String(code - 55) : moved[i];
      for (var j = 0; j < digits.length; j++) remainder = (remainder * 10 + Number(digits[j])) % 97;
    }
    return remainder === 1;
  }

  // A bank account for SEPA Direct Debit: the IBAN, the holder's name and e-mail go from the
  // browser to Stripe (confirmSepaDebitSetup, which also records the mandate's acceptance);
  // the portal receives the SetupIntent's id and whether the mandate box was ticked.
  function bindSepaForm(form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.confirmed === "1") return;
      event.preventDefault();
      var iban = form.querySelector("[data-sepa-iban]").value.replace(/\s+/g, "").toUpperCase();
      var name = form.querySelector("[data-sepa-name]").value.trim();
      var email = form.querySelector("[data-sepa-email]").value.trim();
      var problem = !name ? "Enter the account holder's name."
        : !/^[^@\s]+@[^@\s]+$/.test(email) ? "Enter the e-mail address debit notices go to."
        : !ibanValid(iban) ? "That IBAN is not valid: check it against your bank statement."
        : !form.querySelector("input[name=mandate_accepted]").checked ? "Accept the mandate to add the bank account."
        : typeof window.Stripe !== "function" ? "The payment form could not load. Check your connection and reload the page."
        : "";
      showError(form, problem);
      if (problem) return;
      setBusy(form, true);
      var stripe = window.Stripe(form.dataset.publishableKey);
      requestSetup(form, "sepa_debit")
        .then(function (setup) {
          return stripe.confirmSepaDebitSetup(setup.client_secret, {
            payment_method: { sepa_debit: { iban: iban }, billing_details: { name: name, email: email } },
          });
        })
        .then(function (result) {
          if (result.error) throw new Error(result.error.message || "The bank account was not accepted.");
          submitConfirmed(form, result.setupIntent.id);
        })
        .catch(function (error) {
          setBusy(form, false);
          showError(form, error.message);
        });
    });
  }

  var addSepa = document.querySelector("form[data-payments-form=add-sepa]");
  if (addSepa) bindSepaForm(addSepa);

  // 3-D Secure for a payment in progress (the status panel may be replaced by htmx: delegate).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-payments-form=authenticate]")) return;
    if (form.dataset.confirmed === "1") return;
    event.preventDefault();
    var root = document.getElementById("payment-status-root");
    if (!root) return;
    setBusy(form, true);
    loadStripe(root.dataset.stripeJsUrl)
      .then(function () {
        var stripe = window.Stripe(root.dataset.publishableKey);
        var data = form.dataset.method ? { payment_method: form.dataset.method } : {};
        return stripe.confirmCardPayment(form.dataset.clientSecret, data);
      })
      .then(function () {
        // Whatever the outcome, the portal reads the payment's state from Stripe.
        form.dataset.confirmed = "1";
        form.submit();
      })
      .catch(function () {
        setBusy(form, false);
      });
  });

  // Stripe.js on demand (the payment page loads it only when the client confirms).
  function loadStripe(url) {
    if (typeof window.Stripe === "function") return Promise.resolve();
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = url;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("Stripe.js could not load.")); };
      document.head.appendChild(script);
    });
  }
})();
