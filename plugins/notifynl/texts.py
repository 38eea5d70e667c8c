"""Our local copy of the NotifyNL templates' texts, for previews and the demo only.

NotifyNL renders the real text from the template id; the hub sends nothing but
the template's fields (``((wijk))``). These copies let the regisseur and the demo
see what the resident will read, without sending anything.
"""

from __future__ import annotations

from collections.abc import Mapping

TEXTS: Mapping[tuple[str, str], str] = {
    ("outreach", "sms"): (
        "Goedendag. Het wijkteam ((wijk)) wil graag met u praten over hulp bij geldzaken. "
        "Het is gratis. Bel of app ons, of wacht op ons telefoontje. Groet, wijkteam ((wijk))"),
    ("outreach", "email"): (
        "Goedendag,\n\nHet wijkteam ((wijk)) wil graag met u praten over hulp bij geldzaken. "
        "Hulp is gratis en u beslist zelf. We nemen binnenkort contact met u op.\n\n"
        "Met vriendelijke groet,\nwijkteam ((wijk))"),
    ("consent", "sms"): (
        "Goedendag. Het wijkteam ((wijk)) heeft een vraag voor u. Kijk op Mijn Wijkhub. "
        "Daar kunt u zelf kiezen wat u wilt delen."),
    ("consent", "email"): (
        "Goedendag,\n\nHet wijkteam ((wijk)) heeft een vraag voor u. Kijk op Mijn Wijkhub. "
        "Daar kunt u zelf kiezen wat u wilt delen.\n\nMet vriendelijke groet,\nwijkteam ((wijk))"),
}


def render(purpose: str, channel: str, personalisation: Mapping[str, str]) -> str:
    """The text the resident would read: our copy of the template, its fields filled in."""
    text = TEXTS[(purpose, channel)]
    for key, value in personalisation.items():
        text = text.replace(f"(({key}))", value)
    return text
