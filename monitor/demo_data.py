"""Sample mentions for ``review-monitor demo``, written for this project (no real people).

Two made-up brands; complaints, questions and praise in several languages, as they
would appear on review sites and social feeds.
"""

from __future__ import annotations

# (feed, author, language, title, body)
SAMPLES: list[tuple[str, str, str, str, str]] = [
    ("reviews", "Maria P.", "en", "App keeps crashing after the update",
     "Since yesterday's update the Acme app crashes every time I open my invoices. "
     "Terrible. I need those for my accountant today!"),
    ("social", "@olav_n", "nb", "",
     "Hei Acme, hvorfor er appen nede igjen? Tredje gang denne uka. Ikke fornøyd."),
    ("reviews", "Tom B.", "en", "Great support",
     "Had a billing question and Acme's support sorted it in ten minutes. Thank you!"),
    ("news", "Globex Watch", "en", "Globex customers report double charges",
     "Several Globex customers say they were charged twice for November. "
     "One says she is talking to a lawyer about it."),
    ("social", "@kati_tallinn", "et", "",
     "Acme rakendus ei tööta juba kaks päeva. Väga halb teenindus, keegi ei vasta."),
    ("reviews", "Jean D.", "fr", "Commande jamais livrée",
     "J'ai commandé il y a trois semaines chez Acme et rien. Aucun suivi, aucune réponse. "
     "C'est inadmissible."),
    ("social", "@ana.ro", "ro", "",
     "Cineva de la Acme poate să-mi spună când revine serviciul? Nu sunt mulțumită deloc."),
    ("news", "@sergey_k", "ru", "",
     "Globex списал деньги дважды и не отвечает в поддержке. Не рекомендую."),
    ("reviews", "Lena S.", "de", "Schnelle Lieferung",
     "Alles hat super geklappt, Lieferung von Acme kam einen Tag früher als erwartet."),
    ("social", "@pablo_m", "es", "",
     "¿Alguien sabe si Acme tiene soporte en español? Tengo un problema con mi cuenta."),
    ("reviews", "Chris W.", "en", "Data leak?",
     "I got a phishing mail with my Acme order number in it. Was there a data breach? "
     "Acme, please answer."),
    ("news", "Globex fan", "en", "Loving the new Globex dashboard",
     "The new Globex dashboard is excellent, much faster than before."),
    ("social", "@ingrid_b", "nb", "",
     "Takk til Acme for rask hjelp i dag, veldig fornøyd!"),
    ("reviews", "Peter K.", "de", "Kundenservice unerreichbar",
     "Seit einer Woche versuche ich Acme zu erreichen. Niemand antwortet, mein Geld ist weg. "
     "Das ist Betrug."),
    ("social", "@marek", "et", "",
     "Kas Acme kontor on homme avatud?"),
    ("news", "@dasha", "ru", "",
     "Спасибо Globex, быстро вернули деньги. Отличный сервис!"),
]

BRANDS = {
    "acme": ("Acme", ["acme"]),
    "globex": ("Globex", ["globex"]),
}
