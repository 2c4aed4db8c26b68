"""Template replies, pure: normalisation and near-duplicate decisions, tables of cases."""

from __future__ import annotations

import pytest

from monitor.core.templates import (
    Candidate,
    body_hash,
    is_template,
    jaccard,
    near_identical,
    normalise,
    shingles,
)

# (reply, names involved, normalised)
NORMALISE = [
    # en: greeting with name, order number, e-mail, URL, sign-off with agent name
    ("Hi Jane, we're sorry about order #A-12345. Write to help@acme.com or see "
     "https://acme.com/help. Best regards, Tom", ["Jane", "Tom"],
     "we re sorry about order write to or see"),
    ("Hello Mr. Smith! We're sorry about order 99-881. Write to care@acme.co.uk or see "
     "www.acme.com/x. Kind regards, The Acme Team", ["Mr. Smith"],
     "we re sorry about order write to or see"),
    # the customer's name inside the text, an @handle, a ticket number
    ("Dear @jane_d, sorry Jane, your ticket TCK-0042 is escalated.", ["Jane"],
     "sorry your ticket is escalated"),
    ("Thanks!", [], "thanks"),
    ("", [], ""),
    # a sign-off far from the end is text, not a signature
    ("Cheers to you too, we fixed the app in version 2 and the login now works for "
     "everyone who had the problem last week on android and ios", [],
     "cheers to you too we fixed the app in version and the login now works for everyone "
     "who had the problem last week on android and ios"),
    # words that open or close a reply only sometimes stay when they do not
    ("Head office will do its best to take care of it today.", [],
     "head office will do its best to take care of it today"),
    ("We will do our best to fix it. Best regards, Acme", [], "we will do our best to fix it"),
    ("We refunded you with regards to your order today", [],
     "we refunded you with regards to your order today"),
    ("Sorry about that!\nCheers\nTom", ["Tom"], "sorry about that"),
    # ru
    ("Здравствуйте, Иван! Приносим извинения за заказ №5531. С уважением, команда Acme",
     ["Иван"], "приносим извинения за заказ"),
    # ro
    ("Bună ziua, ne pare rău pentru comanda 123. Cu stimă, echipa Acme", [],
     "ne pare rău pentru comanda"),
    # nb
    ("Hei Ola, beklager forsinkelsen på ordre 5521. Med vennlig hilsen Kari, Acme", [],
     "beklager forsinkelsen på ordre"),
    # et
    ("Tere Mari! Vabandame viivituse pärast. Lugupidamisega, Acme tugi", [],
     "vabandame viivituse pärast"),
    # de
    ("Sehr geehrter Herr Müller, es tut uns leid. Mit freundlichen Grüßen, Ihr Acme-Team", [],
     "es tut uns leid"),
    # fr
    ("Bonjour Marie, nous sommes désolés pour la commande 77. Cordialement, Acme", [],
     "nous sommes désolés pour la commande"),
    # es
    ("Hola Juan, lo sentimos mucho por el pedido 12. Un saludo, equipo Acme", [],
     "lo sentimos mucho por el pedido"),
]


@pytest.mark.parametrize(("reply", "names", "expected"), NORMALISE)
def test_normalise(reply: str, names: list[str], expected: str) -> None:
    assert normalise(reply, names) == expected


def test_same_template_for_different_customers_has_one_hash() -> None:
    first = normalise("Hi Anna, sorry for the trouble with order 1234! Regards, Bob", ["Anna"])
    second = normalise("hello OLE - sorry for the trouble with order 98765. regards, kim",
                       ["Ole"])
    assert first == second and body_hash(first) == body_hash(second)


TEMPLATE = ("We are sorry to hear about your experience. Please contact our customer "
            "service team with your order number so we can look into it.")
# (other reply, near-identical to TEMPLATE at 0.75?)
NEAR = [
    (TEMPLATE, True),
    ("Hi Sam, " + TEMPLATE + " Best regards, Acme", True),
    # one word changed
    (TEMPLATE.replace("look into", "check"), True),
    # a sentence added for the customer
    (TEMPLATE + " The courier lost your parcel in Oslo.", True),
    # personal answers about the same thing
    ("Sorry Sam, the courier lost your parcel; a new one leaves today and you get a refund "
     "of the shipping.", False),
    ("We are sorry. Please contact us.", False),
    ("", False),
]


@pytest.mark.parametrize(("other", "near"), NEAR)
def test_near_identical(other: str, near: bool) -> None:
    found = near_identical(normalise(TEMPLATE), [Candidate.of(1, normalise(other, ["Sam"]))], 0.75)
    assert (found == [1]) is near


def test_empty_reply_matches_nothing() -> None:
    assert near_identical("", [Candidate.of(1, ""), Candidate.of(2, "thanks")], 0.1) == []


@pytest.mark.parametrize(("matches", "k", "template"), [
    (0, 3, False), (2, 3, False), (3, 3, True), (7, 3, True), (1, 1, True)])
def test_k_threshold(matches: int, k: int, template: bool) -> None:
    assert is_template(matches, k) is template


def test_shingles_and_jaccard() -> None:
    assert shingles("a b c d") == {"a b c", "b c d"}
    assert shingles("a b") == {"a b"}
    assert shingles("") == frozenset()
    assert jaccard(shingles("a b c d"), shingles("a b c e")) == pytest.approx(1 / 3)
    assert jaccard(frozenset(), frozenset({"x"})) == 0.0


def test_real_company_replies_from_the_trustpilot_corpus() -> None:
    """flashbay.com's 19 replies: three stock texts pasted 5, 3 and 3 times with names
    swapped are templates at the defaults; replies assembled from stock sentences in
    different combinations are not."""
    import json
    import re

    from conftest import require_corpus

    from monitor.config import RepliesConfig

    companies = json.loads(require_corpus("trustpilot", "companies.json").read_text())
    (company,) = [c for c in companies if "flashbay" in c["pageUrl"]]
    reviews = [review for review in company["reviews"] if review.get("reply")]
    assert len(reviews) == 19
    texts = [normalise(review["reply"]["message"], [review["consumer"]["displayName"]])
             for review in reviews]
    settings = RepliesConfig()
    candidates = [Candidate.of(index, text) for index, text in enumerate(texts)]
    flagged = [index for index, text in enumerate(texts) if is_template(
        len(near_identical(text, [c for c in candidates if c.key != index],
                           settings.template_similarity)), settings.template_min_matches)]
    assert flagged == [0, 2, 4, 5, 7, 8, 9, 10, 11, 14, 15]
    openings = {re.sub(r"^Hello [^,]+,\s*", "", reviews[index]["reply"]["message"])[:20]
                for index in flagged}
    assert openings == {"Thank you for your k", "This is what we love", "Wow-this is fantasti"}
