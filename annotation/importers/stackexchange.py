"""Stack Exchange data dumps → LIMA candidates (no Django import).

Reads `<site>/Posts.xml` (one `<row/>` per post: Id, PostTypeId 1 = question / 2 = answer,
AcceptedAnswerId, Score, Title, Body as HTML, ParentId, OwnerUserId, OwnerDisplayName) from one
site folder or a folder of sites, in one streaming pass per site: lxml's iterparse with each row
cleared as soon as it is read, and a bounded pool of each site's highest-scoring questions, so a
multi-GB dump runs in constant memory.

LIMA's rules (paper, "Curation rules"), one function each below:
  * only the highest-scoring questions whose title is self-contained;
  * each question's top answer, which must score at least 10;
  * answers of 1,200-4,096 characters (measured on the cleaned text);
  * no first-person answers; no answers that refer to other answers or to the site;
  * links, images and HTML stripped, code blocks and lists kept (as Markdown; block quotes, headings and
    emphasis too, so quoted words never read as the answer's own); an answer whose sense depends on a removed
    link ("see the manual here") is rejected;
  * the prompt is the title for some examples and the question body for others (the body whenever the answer
    speaks about it: "your code", "the example in your question");
  * 200 STEM + 200 Other pairs, sampled across communities with temperature 3.

The site is the one `--site` names (a dump extracted under any folder name), else the folder's name; a site
that is in neither the shipped list nor `--site-categories` stops the import (nothing is read as "0 kept").
Each post's licence follows its date, as Stack Exchange publishes it (`licence_for`).

The dump is ordered by Id and an answer is always posted after its question, so one pass
suffices: an answer whose question is not (or no longer) in the pool can never be selected.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lxml import etree

from annotation import paper
from annotation.importers.batch import (
    Candidate,
    CandidateBatch,
    CountingReader,
    ImportReport,
    InputError,
    Progress,
    ProgressMeter,
    files_under,
    too_long,
)
from annotation.importers.cleaning import html_to_markdown, prose_only
from annotation.importers.sampling import TopK, sample_across_communities
from annotation.input_limits import InputLimits, LineLengthGuard, LineTooLong

SITES_FILE = Path(__file__).with_name("stackexchange_sites.json")
# https://stackoverflow.com/help/licensing: content contributed before 2011-04-08 (UTC) is CC BY-SA 2.5, from then
# until before 2018-05-02 CC BY-SA 3.0, on or after 2018-05-02 CC BY-SA 4.0.
LICENCE_CUTOVERS = ((date(2011, 4, 8), "CC BY-SA 2.5"), (date(2018, 5, 2), "CC BY-SA 3.0"))
LATEST_LICENCE = "CC BY-SA 4.0"
UNDATED_LICENCE = "CC BY-SA (version unknown: the post has no CreationDate)"
STEM, OTHER, EXCLUDED = "stem", "other", "excluded"
SOURCE_OF_CATEGORY = {STEM: "stackexchange_stem", OTHER: "stackexchange_other"}

# Rule names, as reported per rejection (a record is counted under the first rule it fails).
TITLE_NOT_SELF_CONTAINED = "title_not_self_contained"
NOT_TOP_SCORING_QUESTION = "question_not_top_scoring"
NO_ANSWER = "no_answer"
ANSWER_SCORE_BELOW_MIN = "top_answer_score_below_min"
ANSWER_TOO_SHORT = "answer_too_short"
ANSWER_TOO_LONG = "answer_too_long"
FIRST_PERSON = "first_person"
REFERS_TO_OTHER_ANSWERS = "refers_to_other_answers"
DEPENDS_ON_LINK = "depends_on_removed_link"
NOT_SAMPLED = "not_sampled"
RULES = (TITLE_NOT_SELF_CONTAINED, NOT_TOP_SCORING_QUESTION, NO_ANSWER, ANSWER_SCORE_BELOW_MIN, ANSWER_TOO_SHORT,
         ANSWER_TOO_LONG, FIRST_PERSON, REFERS_TO_OTHER_ANSWERS, DEPENDS_ON_LINK, NOT_SAMPLED)


@dataclass(frozen=True)
class StackExchangeParams:
    """Defaults are the paper's; `pool_size` bounds memory (the best questions kept per site before the answer rules)."""

    seed: int = 0
    site: str = ""
    stem_target: int = 200
    other_target: int = 200
    temperature: float = 3.0
    min_answer_score: int = 10
    min_answer_chars: int = paper.STACKEXCHANGE_ANSWER_CHARS[0]
    max_answer_chars: int = paper.STACKEXCHANGE_ANSWER_CHARS[1]
    title_prompt_share: float = 0.5
    min_title_words: int = 3
    pool_size: int = 2000
    site_categories: dict[str, str] = field(default_factory=dict)
    sites_file: str = ""
    with_comments: bool = True
    max_comments: int = 20
    strict: bool = False


# --- the rules -------------------------------------------------------------------------------

_TITLE_MARKERS = re.compile(r"\[(?:closed|duplicate|on hold|migrated|deleted)\]", re.IGNORECASE)
_REFERS_TO_BODY = re.compile(
    r"\b(?:this|these|that|those|my|our|the following|following|above|below|attached|given)\s+(?:\w+\s+)?"
    r"(?:code|error|problem|issue|question|image|picture|photo|diagram|graph|equation|sentence|passage|text|snippet|"
    r"example|figure|plot|script|function|program|query|circuit|output|warning|exception|message|screenshot|"
    r"situation|scenario|word|phrase|setup|configuration|table|list|result|proof|integral|expression|formula|"
    r"statement|file|log|case|derivation|calculation|attempt|solution|reasoning|argument|approach|logic)s?\b",
    re.IGNORECASE,
)
_DEICTIC_ENDING = re.compile(r"\b(?:this|that|these|those|it|here|above|below)\s*[?.!]*\s*$", re.IGNORECASE)
# "Why does this happen?", "Is it correct?": a pronoun standing for something only the body shows.
_PRONOUN_SUBJECT = re.compile(
    r"\b(?:does|do|did|is|was|can|could|would|will|should|why|how)\s+(?:this|that|it)\s+"
    r"(?:happen|work|mean|occur|fail|make sense|behave|apply|hold|correct|right|wrong|possible|true|valid)\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\w+")
_DEMONSTRATIVE = re.compile(r"\b(?:this|these|those|the following|the above|the below)\b(?:\s+([\w'-]+))?", re.IGNORECASE)
# "this year", "these days": about time, not about something in the body.
_TIME_WORDS = frozenset("year years month months week weeks day days morning evening afternoon night time times century "
                        "decade season summer winter spring autumn weekend era age".split())
# After a demonstrative these words mean it stands alone as a pronoun ("is this possible", "which of these is").
_NOT_NOUNS = frozenset("is are was were be been being do does did has have had can could would should will may might must "
                       "so in on at to for with of from by about into as and or but if when than then that not really "
                       "actually also still mean means work works happen happens true correct right wrong possible valid "
                       "a an the one ones all both".split())
_TOPIC_BEFORE = re.compile(r"[:\u2013\u2014]|\s-\s")


def _stem(word: str) -> str:
    word = word.lower()
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _points_outside_the_title(title: str) -> bool:
    """A demonstrative with no antecedent in the title itself.

    "What do these numbers mean?" and "Is the following proof correct?" point at the body: no numbers or proof
    were named before. "Python lists vs tuples: which of these is faster?" names its topic before the colon,
    "What is a segmentation fault, and what causes this fault?" names the fault before "this fault", and "this year"
    is about time.
    """
    for match in _DEMONSTRATIVE.finditer(title):
        noun = (match.group(1) or "").lower()
        before = title[: match.start()]
        if noun in _TIME_WORDS:
            continue
        if noun and noun not in _NOT_NOUNS:
            if _stem(noun) not in {_stem(word) for word in _WORDS.findall(before)}:
                return True
        elif not (_TOPIC_BEFORE.search(before) and len(_WORDS.findall(before)) >= 2):
            return True
    return False


def title_is_self_contained(title: str, *, min_words: int = 3) -> bool:
    """Can the title be asked on its own? Not a stub, not closed/duplicate, not pointing at the body.

    Rejected: "What is wrong with this code?", "How do I fix the following error", "What do these numbers mean?",
    "Is this possible?", "Why does this happen?", "Is it like this...", "Lens question [duplicate]".
    Kept: "Why is the sky blue?", "Lists vs tuples: which of these is faster?", "Why did this year have 53 weeks?",
    "What is a segmentation fault, and what causes this fault?".
    A demonstrative (this, these, those, the following, the above) must have its antecedent in the title: the
    same noun named earlier, or, used alone as a pronoun, a topic stated before a colon or dash.
    """
    title = title.strip()
    if len(_WORDS.findall(title)) < min_words:
        return False
    if _TITLE_MARKERS.search(title) or title.endswith(("...", "…", ":")) or title.lower().startswith("re:"):
        return False
    if _REFERS_TO_BODY.search(title) or _DEICTIC_ENDING.search(title) or _PRONOUN_SUBJECT.search(title):
        return False
    return not _points_outside_the_title(title)


def answer_score_is_high_enough(score: int, *, min_score: int = 10) -> bool:
    return score >= min_score


def answer_length_verdict(text: str, *, low: int, high: int) -> str | None:
    """None if the cleaned answer is within LIMA's 1,200-4,096 characters, else the rule it breaks."""
    if len(text) < low:
        return ANSWER_TOO_SHORT
    if len(text) > high:
        return ANSWER_TOO_LONG
    return None


_FIRST_PERSON = re.compile(r"\b(?:I(?!/O\b)|I'm|I've|I'd|I'll|[Mm]y|[Mm]e|[Mm]ine|[Mm]yself)\b")
# Quoted words are someone else's ("the letter 'I'", 'he wrote "my bad"'), never the answerer's voice.
_QUOTED = re.compile(r'"[^"\n]{0,200}"|\u201c[^\u201d\n]{0,200}\u201d|\u2018[^\u2019\n]{0,80}\u2019|(?<![\w\'])\'[^\'\n]{1,80}\'(?![\w])')
# "I" as a letter, a variable or a Roman numeral: "the letter I", "Type I error", "World War I", "Henry I", "I and II".
_I_NOT_A_PRONOUN = re.compile(
    r"\b(?:letter|variable|matrix|index|type|part|phase|chapter|stage|class|war|volume|act|book|section|appendix|grade|"
    r"level|article|figure|table|step|case|series|schedule|track|henry|louis|charles|george|edward|richard|elizabeth|"
    r"james|william|john|napoleon|pope \w+|king|queen|emperor|tsar|peter|nicholas|alexander|frederick|philip|mary)\s+I\b"
    r"|\bI(?=\s*(?:,|and|or|to|-|\u2013|through)\s*(?:II|III|IV|V)\b)",
    re.IGNORECASE,
)


def is_first_person(text: str) -> bool:
    """LIMA drops answers written in the first person ("I", "my"). Code is not prose, quotations are someone
    else's words, and "I" as a letter or a Roman numeral ("Type I error", "World War I") is not a pronoun."""
    prose = _I_NOT_A_PRONOUN.sub(" ", _QUOTED.sub(" ", prose_only(text)))
    return bool(_FIRST_PERSON.search(prose))


_OTHER_ANSWERS = re.compile(
    r"\bas (?:already |previously |others have |has been |was |is )?(?:mentioned|said|stated|noted|pointed out|suggested)\b"
    r"|\bstack ?exchange\b|\bstack ?overflow\b|\bsuper ?user\b|\bserver ?fault\b|\bmath\.?se\b"
    r"|\b(?:up|down)-?vot(?:e|es|ed|ing)\b"
    r"|\bother answers?\b|\banother answer\b|\baccepted answer\b|\b(?:previous|above|below|earlier|existing|top|first) answers?\b"
    r"|\banswers? (?:above|below)\b|\b(?:this|that) answer\b|\bthe comments?\b(?= (?:above|below)| section)"
    r"|\bin (?:the |your )?comments?\b|\bduplicate of\b",
    re.IGNORECASE,
)
_MENTION = re.compile(r"(?<![\w.])@\w{2,}|\bOP\b|\bthe OP's\b")


def refers_to_other_answers(text: str) -> bool:
    """LIMA drops answers that lean on the thread ("as mentioned", "Stack Exchange", "upvote", "other answer", "@user")."""
    prose = prose_only(text)
    return bool(_OTHER_ANSWERS.search(prose) or _MENTION.search(prose))


_DEICTIC_LINK_TEXT = frozenset((
    "here", "there", "this", "that", "link", "this link", "that link", "the link", "click here", "see here", "here's how",
    "this page", "that page", "this article", "this post", "this blog", "this blog post", "this site", "this website",
    "the website", "website", "this one", "source", "the source", "this paper", "this video", "this tutorial",
    "this document", "this guide", "this thread", "this discussion", "this answer", "this question", "more", "read more",
    "details", "docs", "documentation", "the documentation", "this documentation", "link1", "link2",
))
_FOOTNOTE_LINK = re.compile(r"\[?\(?\d{1,2}\)?\]?")
_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_POINTS_AT_URL = re.compile(r"\b(?:see|visit|at|from|read|check|via|on|in|here|go to|download|available)\s*:?\s*$", re.IGNORECASE)


def depends_on_removed_link(answer_html: str) -> bool:
    """Would the cleaned answer leave a dangling reference where a link was? Link text that only points ("see the
    manual here", "this article", "[1]") or a bare URL the sentence leads to ("see https://...", "visit: www...")
    loses its sense once links are stripped, so LIMA's rule (links removed) cannot keep such an answer."""
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(answer_html or "", create_parent="div")
    except (etree.ParserError, ValueError):
        return False
    for code in list(root.iter("pre", "code")):
        code.drop_tree()
    for link in root.iter("a"):
        text = " ".join(link.text_content().split()).lower().strip(" .:!,")
        if text in _DEICTIC_LINK_TEXT or _FOOTNOTE_LINK.fullmatch(text):
            return True
    plain = " ".join(root.text_content().split())
    return any(_POINTS_AT_URL.search(plain[: match.start()]) for match in _URL_IN_TEXT.finditer(plain))


_REFERS_TO_QUESTION = re.compile(
    r"\byour (?:code|example|snippet|script|query|function|program|proof|attempt|edit|setup|configuration|config|data|"
    r"output|error|table|circuit|diagram|graph|equation|formula|expression|derivation|calculation|image|picture|photo|"
    r"screenshot|sentence|translation|implementation|solution|approach|version|loop|class|method|model|schematic|recipe|"
    r"dough|batter|measurements|ingredients)s?\b"
    r"|\bin (?:your|the) (?:question|post)\b|\b(?:you|the OP) (?:posted|wrote|showed|linked|quoted|described|tried)\b"
    r"|\b(?:the|this) (?:code|example|snippet|image|picture|photo|diagram|graph|equation|table|sentence) (?:in|from|of) "
    r"(?:your|the) (?:question|post)\b",
    re.IGNORECASE,
)


def refers_to_the_question_body(text: str) -> bool:
    """Does the answer speak about what only the question's body shows ("your code", "the example in your
    question")? Such an answer is kept with the body as its prompt, never with the title alone."""
    return bool(_REFERS_TO_QUESTION.search(prose_only(text)))


def licence_for(created: str | None) -> str:
    """The licence of a post by its CreationDate (ISO, as the dumps write it), by Stack Exchange's cut-over dates."""
    try:
        day = date.fromisoformat((created or "")[:10])
    except ValueError:
        return UNDATED_LICENCE
    for cutover, licence in LICENCE_CUTOVERS:
        if day < cutover:
            return licence
    return LATEST_LICENCE


def choose_prompt_from_title(*, seed: int, site: str, question_id: int, title_share: float) -> bool:
    """LIMA uses the title as the prompt for some examples and the body for others; seeded per question
    so the choice does not depend on which other questions were sampled."""
    return random.Random(f"{seed}:{site}:{question_id}").random() < title_share


def comment_dialogue(*, prompt: str, response: str, comments: list[dict], answerer_id: str | None) -> list[str] | None:
    """A multi-turn starting point from an answer's comment chain: the answerer's comments are assistant
    turns, everyone else's user turns; consecutive turns of one side merge; it ends on the assistant.
    None when the chain has no user follow-up answered by the answerer."""
    turns: list[tuple[str, str]] = [("user", prompt), ("assistant", response)]
    for comment in comments:
        text = re.sub(r"^@\S+\s*", "", comment.get("text", "").strip())
        if not text:
            continue
        role = "assistant" if answerer_id and comment.get("user_id") == answerer_id else "user"
        if turns[-1][0] == role:
            turns[-1] = (role, f"{turns[-1][1]}\n\n{text}")
        else:
            turns.append((role, text))
    while turns and turns[-1][0] == "user":
        turns.pop()
    return [text for _, text in turns] if len(turns) >= 4 else None


# --- sites -----------------------------------------------------------------------------------


def _short(host: str) -> str:
    for suffix in (".stackexchange.com", ".com", ".net"):
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def load_site_categories(sites_file: str | Path = "", overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Site host or short name → 'stem' / 'other' / 'excluded', from the shipped (editable) list plus overrides."""
    path = Path(sites_file) if sites_file else SITES_FILE
    try:
        listing = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, None, f"cannot read the site list: {exc}") from exc
    categories: dict[str, str] = {}
    for category in (STEM, OTHER, EXCLUDED):
        for host in listing.get(category, []):
            categories[host.lower()] = category
            categories[_short(host.lower())] = category
    for name, category in (overrides or {}).items():
        if category not in (STEM, OTHER, EXCLUDED):
            raise ValueError(f"site {name!r}: category must be stem, other or excluded, not {category!r}")
        categories[name.lower()] = category
        categories[_short(name.lower())] = category
    return categories


def site_host(folder_name: str) -> str:
    """The site's host from its dump folder ('physics.stackexchange.com', or a bare 'physics')."""
    # Stack Overflow's dump ships one archive per table: stackoverflow.com-Posts.7z → stackoverflow.com-posts/.
    name = re.sub(r"-(posts|comments|users)$", "", folder_name.lower().removesuffix(".7z"))
    if "." in name:
        return name
    return f"{name}.com" if name in ("stackoverflow", "superuser", "serverfault", "askubuntu") else f"{name}.stackexchange.com"


def site_category(host: str, categories: dict[str, str]) -> str | None:
    if host.startswith("meta.") or ".meta." in host:
        return EXCLUDED
    return categories.get(host) or categories.get(_short(host))


# --- the streaming scan ----------------------------------------------------------------------

# Pool payload slots (a list, not an object: the pool is updated once per answer row).
(_TITLE, _BODY, _ACCEPTED, _Q_OWNER, _Q_CREATED, _BEST_SCORE, _ANSWER_ID, _ANSWER_BODY, _A_OWNER, _A_OWNER_NAME,
 _A_CREATED) = range(11)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


@dataclass
class EligiblePair:
    question_id: int
    question_score: int
    title: str
    question_html: str
    question_owner: str | None
    answer_id: int
    answer_score: int
    answer_html: str
    answer_markdown: str
    answer_owner: str | None
    answer_owner_name: str | None
    question_created: str | None = None
    answer_created: str | None = None


@dataclass
class SiteScan:
    host: str
    category: str
    folder: Path
    questions: int = 0
    eligible: list[EligiblePair] = field(default_factory=list)


def _rows(path: Path, reader, limits: InputLimits):
    """The <row> elements of a dump file, each released by the caller (`_release`) before the next.

    A dump is one root element holding only rows, one per line. Anything else would stay in memory (only
    rows are released) and means this is not a dump: 5 million stray elements once took a worker to 1.3 GB
    and the import "succeeded" with nothing. So any other element, more than LIMA_MAX_XML_ELEMENTS rows,
    or a line over LIMA_MAX_LINE_BYTES stops the import with its line.
    """
    # No DTDs, no entities beyond XML's own, no network: dumps are data, never instructions to the parser.
    events = etree.iterparse(LineLengthGuard(reader, max_line_bytes=limits.max_line_bytes), events=("end",),
                             resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    count = 0
    try:
        for _, element in events:
            parent = element.getparent()
            if parent is None:
                return  # the root's end: the file is complete
            if element.tag != "row" or parent.getparent() is not None:
                raise InputError(path, element.sourceline, f"unexpected element <{element.tag}> (a Stack Exchange dump "
                                                           f"holds only <row> elements under its root)")
            count += 1
            if count > limits.max_xml_elements:
                raise InputError(path, element.sourceline, f"more than {limits.max_xml_elements:,} rows (LIMA_MAX_XML_ELEMENTS)")
            yield element
    except LineTooLong as exc:
        raise too_long(path, exc) from None


def _release(row) -> None:
    """Constant memory: drop the row's content and the already-processed siblings before it."""
    row.clear()
    parent = row.getparent()
    while row.getprevious() is not None:
        del parent[0]


def _syntax_error(path: Path, exc: etree.XMLSyntaxError) -> InputError:
    message = exc.msg or str(exc)
    if "not proper UTF-8" in message or "encoding" in message.lower():
        message += " (the dump must be UTF-8)"
    return InputError(path, exc.lineno or (exc.position[0] if exc.position else None), f"malformed XML: {message}")


def scan_posts(path: Path, *, params: StackExchangeParams, report: ImportReport, meter: ProgressMeter,
               limits: InputLimits) -> tuple[int, TopK]:
    """One pass over Posts.xml: the pool of the site's best self-contained questions with their top answers."""
    pool: TopK[int] = TopK(params.pool_size)
    payloads = pool.payloads
    questions = 0
    min_words = params.min_title_words
    try:
        with open(path, "rb") as raw:
            for row in _rows(path, CountingReader(raw, meter), limits):
                get = row.get
                kind = get("PostTypeId")
                if kind == "2":
                    entry = payloads.get(_int(get("ParentId")))
                    if entry is not None:
                        answer_id, score, body = _int(get("Id")), _int(get("Score")), get("Body")
                        if answer_id is None or score is None or body is None:
                            report.skip(path, row.sourceline, "answer without a numeric Id/Score or a Body")
                        elif score > entry[_BEST_SCORE] or (score == entry[_BEST_SCORE] and answer_id == entry[_ACCEPTED]):
                            entry[_BEST_SCORE:] = [score, answer_id, body, get("OwnerUserId"), get("OwnerDisplayName"),
                                                    get("CreationDate")]
                elif kind == "1":
                    question_id, score, title, body = _int(get("Id")), _int(get("Score")), get("Title"), get("Body")
                    if question_id is None or score is None or title is None or body is None:
                        report.skip(path, row.sourceline, "question without a numeric Id/Score, a Title or a Body")
                    else:
                        questions += 1
                        if not title_is_self_contained(title, min_words=min_words):
                            report.reject(TITLE_NOT_SELF_CONTAINED)
                        else:
                            payload = [title, body, _int(get("AcceptedAnswerId")), get("OwnerUserId"), get("CreationDate"),
                                       -(10**9), 0, None, None, None, None]
                            if pool.offer(question_id, score, payload) is not None:
                                report.reject(NOT_TOP_SCORING_QUESTION)
                elif kind is None:
                    report.skip(path, row.sourceline, "row without a PostTypeId")
                _release(row)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(path, exc) from exc
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc}") from exc
    report.read += questions
    return questions, pool


def eligible_pairs(pool: TopK, *, params: StackExchangeParams, report: ImportReport) -> list[EligiblePair]:
    """Apply the answer rules to the pool, best question first; rejections are counted per rule."""
    eligible = []
    for question_id, score, entry in pool.ranked():
        if entry[_ANSWER_BODY] is None:
            report.reject(NO_ANSWER)
            continue
        if not answer_score_is_high_enough(entry[_BEST_SCORE], min_score=params.min_answer_score):
            report.reject(ANSWER_SCORE_BELOW_MIN)
            continue
        markdown = html_to_markdown(entry[_ANSWER_BODY])
        verdict = answer_length_verdict(markdown, low=params.min_answer_chars, high=params.max_answer_chars)
        if verdict is None and is_first_person(markdown):
            verdict = FIRST_PERSON
        if verdict is None and refers_to_other_answers(markdown):
            verdict = REFERS_TO_OTHER_ANSWERS
        if verdict is None and depends_on_removed_link(entry[_ANSWER_BODY]):
            verdict = DEPENDS_ON_LINK
        if verdict is not None:
            report.reject(verdict)
            continue
        eligible.append(EligiblePair(
            question_id=question_id, question_score=score, title=entry[_TITLE], question_html=entry[_BODY],
            question_owner=entry[_Q_OWNER], answer_id=entry[_ANSWER_ID], answer_score=entry[_BEST_SCORE],
            answer_html=entry[_ANSWER_BODY], answer_markdown=markdown, answer_owner=entry[_A_OWNER],
            answer_owner_name=entry[_A_OWNER_NAME], question_created=entry[_Q_CREATED], answer_created=entry[_A_CREATED],
        ))
    return eligible


def _scan_rows(path: Path, meter: ProgressMeter, limits: InputLimits, wanted, on_row) -> None:
    """Stream an auxiliary dump file (Users.xml, Comments.xml), calling on_row for rows whose key is wanted."""
    try:
        with open(path, "rb") as raw:
            for row in _rows(path, CountingReader(raw, meter), limits):
                if wanted(row):
                    on_row(row)
                _release(row)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(path, exc) from exc


def resolve_authors(users_xml: Path, user_ids: set[str], meter: ProgressMeter, limits: InputLimits) -> dict[str, str]:
    """Display names for the selected answers' authors (attribution), from the site's Users.xml."""
    names: dict[str, str] = {}
    _scan_rows(users_xml, meter, limits, lambda row: row.get("Id") in user_ids,
               lambda row: names.__setitem__(row.get("Id"), row.get("DisplayName") or ""))
    return names


def collect_comments(comments_xml: Path, post_ids: set[str], meter: ProgressMeter, limits: InputLimits, *,
                     limit: int) -> dict[str, list[dict]]:
    """The comment chains under the selected answers, oldest first: the raw material for multi-turn dialogues."""
    chains: dict[str, list[dict]] = {}

    def keep(row) -> None:
        chain = chains.setdefault(row.get("PostId"), [])
        if len(chain) < limit:
            chain.append({"id": _int(row.get("Id")), "user_id": row.get("UserId"), "score": _int(row.get("Score")) or 0,
                          "text": row.get("Text") or ""})

    _scan_rows(comments_xml, meter, limits, lambda row: row.get("PostId") in post_ids, keep)
    for chain in chains.values():
        chain.sort(key=lambda comment: comment["id"] or 0)
    return chains


# --- the import ------------------------------------------------------------------------------


def find_sites(path: str | Path, *, categories: dict[str, str], report: ImportReport, site: str = "") -> list[SiteScan]:
    """The site folders under `path` (a Posts.xml, a site folder, or a folder of sites) with their category.

    `site` names the site of a one-site dump extracted under any folder name; without it each folder's name is
    the site. A site that is not classified stops the import with what to pass, before anything is read.
    """
    found = files_under(path, ("Posts.xml",))
    if site and len(found) > 1:
        raise InputError(path, None, f"--site names one site, but this folder holds {len(found)} site folders with a "
                                     f"Posts.xml; point at one of them, or drop --site to take each folder's name")
    sites = []
    for posts in found:
        if posts.name != "Posts.xml":
            raise InputError(posts, None, "expected a Stack Exchange Posts.xml (or a folder of site folders)")
        host = site_host(site.strip().lower().removeprefix("https://").removeprefix("http://").strip("/")) if site \
            else site_host(posts.parent.name)
        category = site_category(host, categories)
        if category is None:
            named = "named by --site" if site else f"taken from the folder name {posts.parent.name!r}"
            raise InputError(posts, None, f"unknown Stack Exchange site {host!r} ({named}): pass --site HOST with the "
                                          f"site's host (e.g. --site physics.stackexchange.com), or classify it with "
                                          f"--site-categories {host}=stem (or =other), or add it to stackexchange_sites.json")
        if category == EXCLUDED:
            continue
        sites.append(SiteScan(host=host, category=category, folder=posts.parent))
    return sites


def _candidate(site: SiteScan, pair: EligiblePair, *, params: StackExchangeParams, authors: dict[str, str],
               comments: dict[str, list[dict]]) -> Candidate:
    from_title = choose_prompt_from_title(seed=params.seed, site=site.host, question_id=pair.question_id,
                                          title_share=params.title_prompt_share)
    body_prompt = html_to_markdown(pair.question_html)
    body_forced = bool(from_title and body_prompt and refers_to_the_question_body(pair.answer_markdown))
    if body_forced:
        from_title = False
    if not body_prompt:
        from_title = True
    prompt = pair.title.strip() if from_title else body_prompt
    author = pair.answer_owner_name or authors.get(pair.answer_owner or "", "")
    provenance = {
        "importer": "stackexchange",
        "community": site.host,
        "site": site.host,
        "category": site.category,
        "post_id": pair.answer_id,
        "question_id": pair.question_id,
        "answer_id": pair.answer_id,
        "url": f"https://{site.host}/a/{pair.answer_id}",
        "question_url": f"https://{site.host}/q/{pair.question_id}",
        "score": pair.answer_score,
        "question_score": pair.question_score,
        "author": author,
        "author_user_id": pair.answer_owner or "",
        "question_owner_id": pair.question_owner or "",
        "licence": licence_for(pair.answer_created),
        "created": pair.answer_created or "",
        "question_licence": licence_for(pair.question_created),
        "prompt_from": "title" if from_title else "body",
        "prompt_from_reason": "the answer refers to the question's body" if body_forced else "seeded choice",
        "question_title": pair.title,
        "raw_prompt": pair.title if from_title else pair.question_html,
        "raw_response": pair.answer_html,
        "comments": comments.get(str(pair.answer_id), []),
    }
    return Candidate(
        source_key=f"stackexchange:{site.host}:{pair.question_id}",
        source=SOURCE_OF_CATEGORY[site.category],
        split=paper.TRAIN,
        conversations=[prompt, pair.answer_markdown],
        title=pair.title.strip()[:200],
        community=site.host,
        provenance=provenance,
    )


def import_stackexchange(path: str | Path, params: StackExchangeParams | None = None, *,
                         progress: Progress | None = None, limits: InputLimits | None = None) -> CandidateBatch:
    """Run every LIMA rule over a Stack Exchange dump and sample the STEM and Other candidates."""
    params = params or StackExchangeParams()
    limits = limits or InputLimits()
    report = ImportReport(importer="stackexchange", strict=params.strict)
    categories = load_site_categories(params.sites_file, params.site_categories)
    sites = find_sites(path, categories=categories, report=report, site=params.site)
    report.files = [str(site.folder / "Posts.xml") for site in sites]
    aux = [site.folder / name for site in sites for name in ("Users.xml", "Comments.xml")
           if (site.folder / name).is_file() and (name == "Users.xml" or params.with_comments)]
    meter = ProgressMeter(sum((site.folder / "Posts.xml").stat().st_size for site in sites) + sum(p.stat().st_size for p in aux),
                          progress)
    for site in sites:
        site.questions, pool = scan_posts(site.folder / "Posts.xml", params=params, report=report, meter=meter, limits=limits)
        site.eligible = eligible_pairs(pool, params=params, report=report)
    chosen: list[tuple[SiteScan, EligiblePair]] = []
    by_host = {site.host: site for site in sites}
    for category, target in ((STEM, params.stem_target), (OTHER, params.other_target)):
        group = [site for site in sites if site.category == category]
        picks = sample_across_communities(
            {site.host: site.eligible for site in group}, {site.host: site.questions for site in group}, target,
            temperature=params.temperature, rng=random.Random(f"{params.seed}:{category}"),
        )
        report.reject(NOT_SAMPLED, sum(len(site.eligible) for site in group) - len(picks))
        chosen.extend((by_host[host], pair) for host, pair in picks)
    candidates = []
    for site in sites:
        pairs = [pair for chosen_site, pair in chosen if chosen_site is site]
        authors: dict[str, str] = {}
        comments: dict[str, list[dict]] = {}
        users_xml, comments_xml = site.folder / "Users.xml", site.folder / "Comments.xml"
        if users_xml in aux:
            wanted = {pair.answer_owner for pair in pairs if pair.answer_owner and not pair.answer_owner_name}
            if wanted:
                authors = resolve_authors(users_xml, wanted, meter, limits)
            else:
                meter.add(users_xml.stat().st_size)
        if comments_xml in aux:
            if pairs:
                comments = collect_comments(comments_xml, {str(pair.answer_id) for pair in pairs}, meter, limits,
                                            limit=params.max_comments)
            else:
                meter.add(comments_xml.stat().st_size)
        candidates.extend(_candidate(site, pair, params=params, authors=authors, comments=comments) for pair in pairs)
    report.kept = len(candidates)
    report.bytes_read = meter.done
    meter.finish()
    return CandidateBatch(candidates=candidates, report=report)
