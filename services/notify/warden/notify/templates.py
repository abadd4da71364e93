"""Notice templates: Jinja2, one YAML file per locale, validated at start-up.

``templates/<locale>.yaml`` maps each notice kind to a ``subject`` and a ``body`` (Jinja2).
Every locale must provide every notice: a missing or broken one is a start-up error naming the
locale and the notice, and so is a template that uses a variable the notice does not carry
(rendered against a sample context with ``StrictUndefined``). A notice for a locale that is
not supported falls back to English.

Each template is rendered twice: as HTML with autoescape on (email HTML part, so that text
taken from reports can never inject markup) and as plain text (email text part, webhook
``message.text``). The subject is one line: line breaks are removed, so nothing can be smuggled
into mail headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template, TemplateError

from warden.notify.notices import DEFAULT_LOCALE, LOCALES, TEMPLATED, NoticeKind, sample_contexts

TEMPLATE_DIR = Path(__file__).parent / "templates"


class TemplateCatalogueError(ValueError):
    """The templates cannot be used; the message names the locale and notice at fault."""


@dataclass(frozen=True)
class Rendered:
    locale: str
    subject: str
    text: str
    html: str

    def as_dict(self) -> dict[str, str]:
        return {"locale": self.locale, "subject": self.subject, "text": self.text,
                "html": self.html}


@dataclass(frozen=True)
class _Compiled:
    subject: Template
    text: Template
    html: Template


def _environments() -> tuple[Environment, Environment]:
    common = dict(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                  keep_trailing_newline=False)
    return Environment(autoescape=False, **common), Environment(autoescape=True, **common)


class TemplateCatalogue:
    def __init__(self, compiled: dict[tuple[str, NoticeKind], _Compiled]) -> None:
        self._compiled = compiled

    @classmethod
    def load(cls, directory: Path = TEMPLATE_DIR) -> TemplateCatalogue:
        text_env, html_env = _environments()
        compiled: dict[tuple[str, NoticeKind], _Compiled] = {}
        for locale in LOCALES:
            path = directory / f"{locale}.yaml"
            try:
                entries = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise TemplateCatalogueError(f"templates {path.name}: {exc}") from None
            if not isinstance(entries, dict):
                raise TemplateCatalogueError(f"templates {path.name}: not a mapping of notices")
            unknown = sorted(set(entries) - {k.value for k in TEMPLATED})
            if unknown:
                raise TemplateCatalogueError(f"templates {path.name}: unknown notices {unknown}")
            for kind in TEMPLATED:
                where = f"templates {path.name}, notice {kind.value}"
                entry = entries.get(kind.value)
                if not isinstance(entry, dict) or not isinstance(entry.get("subject"), str) \
                        or not isinstance(entry.get("body"), str):
                    raise TemplateCatalogueError(f"{where}: needs a 'subject' and a 'body' text")
                try:
                    compiled[(locale, kind)] = _Compiled(
                        subject=text_env.from_string(entry["subject"]),
                        text=text_env.from_string(entry["body"]),
                        html=html_env.from_string(entry["body"]))
                except TemplateError as exc:
                    raise TemplateCatalogueError(f"{where}: {exc}") from None
        catalogue = cls(compiled)
        catalogue.check()
        return catalogue

    def check(self) -> None:
        """Render every notice in every locale against a full sample context."""
        samples = sample_contexts()
        for (locale, kind), _ in sorted(self._compiled.items()):
            try:
                self.render(kind, locale, samples[kind])
            except TemplateError as exc:
                raise TemplateCatalogueError(
                    f"templates {locale}.yaml, notice {kind.value}: {exc}") from None

    def render(self, kind: NoticeKind, locale: str, context: dict[str, Any]) -> Rendered:
        if (locale, kind) not in self._compiled:
            locale = DEFAULT_LOCALE
        compiled = self._compiled[(locale, kind)]
        subject = " ".join(compiled.subject.render(context).split())
        text = compiled.text.render(context).strip() + "\n"
        html = "<html><body><pre style=\"font-family: sans-serif; white-space: pre-wrap\">" \
               + compiled.html.render(context).strip() + "</pre></body></html>"
        return Rendered(locale=locale, subject=subject, text=text, html=html)
