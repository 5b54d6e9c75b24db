"""Building messages out of pieces that may or may not end a sentence (an API's error text,
an organization named "Dental Co.")."""


def sentence(text: str) -> str:
    """``text`` as a finished sentence: a period added unless it already ends with one (or
    with ! ? …), so "Invalid password" + " Check Settings." never runs on and "Dental Co."
    never gets a second period."""
    text = str(text).strip()
    if not text or text[-1] in ".!?…":
        return text
    return f"{text}."
