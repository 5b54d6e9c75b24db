// The invitation link carries its token after "#", which browsers never send to a server
// (so it stays out of access logs and Referer headers). Move it into the form, drop it from
// the address bar and history, and post it (portal.views.InvitationView).
(function () {
  "use strict";
  var form = document.getElementById("invitation-open");
  var token = window.location.hash.replace(/^#/, "");
  if (!form || !token) {
    return;
  }
  try {
    token = decodeURIComponent(token);
  } catch (e) {
    // not percent-encoded: use as is
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  form.elements.token.value = token;
  form.submit();
})();
