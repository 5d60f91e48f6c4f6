"""Is a text phrased as a question? Cheap text features, no model (pure functions).

A question mark alone says little in product feedback ("Does anyone else have this crash?" is a bug
report; "how can I change it to the top I am using win10" is a question without one). This module reads
the interrogative *structure* of each clause:

- `direct`: a clause opens with a wh-word (how, what, where, ...) or an inverted auxiliary followed by
  its subject ("is there", "can I", "does anyone", "do you"), after greetings and fillers are skipped;
- `indirect`: an embedded question ("is there a way", "I was wondering if", "does anyone know",
  "I would like to know", "how to ...");
- `ask_to_change`: a request dressed as a question ("can you add ...", "would it be possible to get ...",
  "any plans to support ...") — interrogative in form, a feature request in meaning;
- `mark`: a question mark.

`form_bias(texts, labels)` turns them into additions to the intent head's logits (the same mechanism as
the area keyword hint): a text with no interrogative form at all is pushed away from `question`, so a
complaint or a remark is never taken for one because it *sounds* like a help-centre topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

WH = r"(?:how|what|whats|what's|where|wheres|where's|when|why|which|who|whom|whose|hows|how's)"
AUX = (r"(?:is|are|was|were|am|do|does|did|can|could|will|would|should|shall|may|might|has|have|had|"
       r"isn'?t|aren'?t|don'?t|doesn'?t|didn'?t|can'?t|cannot|won'?t|wouldn'?t|shouldn'?t|couldn'?t)")
SUBJECT = (r"(?:i|you|we|they|he|she|it|there|this|that|these|those|anyone|anybody|someone|somebody|one|"
           r"my|our|your|the|a|an|any|some|vlc|firefox|[a-z][\w.+-]*)")
FILLER = (r"(?:hi|hello|hey|hey all|hi all|hi there|ok|okay|so|also|and|but|well|then|now|just|please|"
          r"p\.?s\.?:?|btw|sorry|thanks|question|quick question|one more thing|anyway)")

_CLAUSE_SPLIT = re.compile(r"(?<=[.!?;:,)\-])\s+|\s+-{1,2}\s+|\n+")
_LEAD = re.compile(rf"^(?:[\"'“”*(\[-]+|\s+|{FILLER}\b[\s,:!-]*)*", re.IGNORECASE)
PRONOUN = r"(?:i|you|we|they|he|she|it|there|this|that|these|those|anyone|anybody|someone|somebody|one)"
POSITIVE_AUX = r"(?:is|are|was|were|am|do|does|did|can|could|will|would|should|shall|may|might|has|have|had)"
# A clause opening that is a question on its own: wh-word + auxiliary or "to" ("how do", "what is", "how to"),
# or a positive auxiliary + pronoun ("is there", "can I", "does anyone"). Weaker openings (a wh-word alone,
# which also starts subordinate clauses like "when I start it ..."; an auxiliary + any word; a negative
# auxiliary, as in "Can't play it") count only when the text also has a question mark.
_DIRECT = re.compile(rf"^(?:{WH}\s+(?:{POSITIVE_AUX}|to)\b|{POSITIVE_AUX}\s+{PRONOUN}\b|"
                     r"any\s+(?:way|idea|ideas|suggestions?|tips?|tricks?|help|solution|fix)\b)", re.IGNORECASE)
_DIRECT_WITH_MARK = re.compile(rf"^(?:{WH}\b|{AUX}\s+{SUBJECT}\b)", re.IGNORECASE)
_INDIRECT = re.compile(
    r"\b(?:is there (?:a|any) (?:way|option|setting|chance|possibility)|is it possible|"
    r"(?:does|do|did|can|could) (?:any|some)(?:one|body)(?: here)? (?:know|tell|help|advise|explain|suggest|point)|"
    r"(?:any|some)(?:one|body) (?:know|knows|have an idea)|i(?:'m| am)? (?:was |am )?wondering|"
    r"i(?:'d| would) like to know|i want to know|i need to know|(?:please )?tell me (?:how|what|where|if|whether)|"
    r"(?:not sure|unsure|no idea) (?:how|what|where|if|whether|why)|(?:can't|cannot|cant) (?:figure out|find out) "
    r"(?:how|what|where|if|whether|why)|how (?:do|can|could|should|would) (?:i|we|you|one)|how to\b|"
    r"what (?:is|are) the (?:best|right|correct) way)",
    re.IGNORECASE,
)
_ASK_TO_CHANGE = re.compile(
    r"\b(?:(?:can|could|would|will) (?:you|they|the devs?|the developers?|the team)(?: guys)?(?: please)? "
    r"(?:add|make|provide|include|support|implement|consider|bring|build|allow|let|give|put)|"
    r"(?:would|will) it be possible (?:to|for you to) (?:add|get|have|make|include|support)|"
    r"(?:any|are there) plans? (?:to|for|on)|(?:can|could) (?:we|i) (?:please )?(?:get|have) (?:an?|the|support|some)|"
    r"(?:can|could) (?:an?|the|this) [\w -]{1,30}? be (?:added|made|included|implemented))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QuestionForm:
    direct: bool
    indirect: bool
    ask_to_change: bool
    mark: bool

    @property
    def interrogative(self) -> bool:
        """Phrased as a question by its structure (a question mark alone does not count)."""
        return self.direct or self.indirect

    @property
    def any(self) -> bool:
        return self.direct or self.indirect or self.mark


def clauses(text: str) -> list[str]:
    return [c for c in (_LEAD.sub("", part.strip()) for part in _CLAUSE_SPLIT.split(text or "")) if c]


def question_form(text: str) -> QuestionForm:
    parts = clauses(text)
    mark = "?" in (text or "")
    return QuestionForm(
        direct=any(_DIRECT.match(c) or (mark and _DIRECT_WITH_MARK.match(c)) for c in parts),
        indirect=bool(_INDIRECT.search(text or "")),
        ask_to_change=bool(_ASK_TO_CHANGE.search(text or "")),
        mark=mark,
    )


# Additions to the intent logits. The head's logits span a few units on sentence embeddings, so these are
# hints of the same size as the area keyword hint, not overrides: the text's meaning still decides
# between bug, request, praise and remark.
STRUCTURE_BONUS = 3.0  # question by structure -> +question
MARK_ONLY_BONUS = 1.0  # only a '?' (e.g. "CPU is not peaking?") -> a small push
NO_FORM_PENALTY = 4.0  # no interrogative form and no '?': -question (never taken for one)
ASK_TO_CHANGE_SHIFT = 2.0  # "can you add ..." -> from question to feature_request


def form_bias(texts: list[str], labels: list[str]) -> np.ndarray | None:
    """(n, k) additions to the intent logits from the question form, or None without a `question` label."""
    if "question" not in labels:
        return None
    q = labels.index("question")
    request = labels.index("feature_request") if "feature_request" in labels else None
    bias = np.zeros((len(texts), len(labels)), dtype=np.float32)
    for i, text in enumerate(texts):
        form = question_form(text)
        if form.interrogative:
            bias[i, q] += STRUCTURE_BONUS
        elif form.mark:
            bias[i, q] += MARK_ONLY_BONUS
        else:
            bias[i, q] -= NO_FORM_PENALTY
        if form.ask_to_change and request is not None:
            bias[i, q] -= ASK_TO_CHANGE_SHIFT
            bias[i, request] += ASK_TO_CHANGE_SHIFT
    return bias
