"""The interchange codec: what an HTTP adapter's ``<channel>_api.py`` is to
its API, this module is to an EDI partner's files.

Reading: an X12 interchange through pyx12's ``X12Reader`` (separators read
from the ISA segment, IEA/GE/SE counts and control numbers checked as the
segments go by); an EDIFACT interchange through pydifact's parser
(separators from the UNA service string advice, or the defaults), the
UNZ/UNT counts and references checked here. Either way the result is one
:class:`Interchange`: its envelope, its transaction sets (messages) as plain
lists of elements, and every envelope error with the segment, its position
and the element it is about.

Writing: :func:`write_x12` through pyx12's ``X12Writer`` (which writes the
SE, GE and IEA trailers with their counts), :func:`write_edifact` through
pydifact's ``Interchange``/``Message`` (UNT and UNZ with their counts).
"""

import io
import warnings
from dataclasses import dataclass, field
from datetime import datetime

from pydifact.exceptions import EDISyntaxError
from pydifact.parser import Parser
from pydifact.segmentcollection import Interchange as EdifactInterchange
from pydifact.segmentcollection import Message as EdifactMessage
from pydifact.segments import Segment as EdifactSegment
from pyx12.errors import X12Error
from pyx12.segment import Segment as X12Segment
from pyx12.x12file import X12Reader, X12Writer

X12 = "x12"
EDIFACT = "edifact"

#: pyx12's envelope error codes -> (segment, element) they are about
X12_ERROR_ELEMENTS = {
    ("isa", "001"): ("IEA", 2),
    ("isa", "021"): ("IEA", 1),
    ("isa", "023"): ("IEA", 0),
    ("isa", "024"): ("IEA", 0),
    ("isa", "025"): ("ISA", 13),
    ("gs", "3"): ("GE", 0),
    ("gs", "4"): ("GE", 2),
    ("gs", "5"): ("GE", 1),
    ("gs", "6"): ("GS", 6),
    ("st", "2"): ("SE", 0),
    ("st", "3"): ("SE", 2),
    ("st", "4"): ("SE", 1),
    ("st", "23"): ("ST", 2),
}


@dataclass
class EnvelopeError:
    """What is wrong with an interchange, where: ``segment`` (its tag),
    ``position`` (its ordinal in the interchange, 1 = ISA/UNB), ``element``
    (1-based, 0 when the whole segment is missing or wrong), ``message``;
    ``transaction`` the control number of the transaction set concerned."""

    segment: str
    position: int
    element: int
    message: str
    transaction: str = None
    code: str = None

    def where(self):
        element = f"{self.element:02d}" if self.element else ""
        return f"{self.segment}{element} (segment {self.position})"


@dataclass
class Transaction:
    """One transaction set (X12 ST..SE) or message (EDIFACT UNH..UNT):
    ``code`` (``850``, ``ORDERS``), ``control`` (ST02 / UNH 0062),
    ``segments`` [(tag, [elements])] without its header and trailer, each
    element a string or, when composite, a list of strings; ``position``
    the ordinal of its header segment in the interchange."""

    code: str
    control: str
    version: str = None
    segments: list = field(default_factory=list)
    position: int = 0

    def find(self, tag):
        return [elements for seg_tag, elements in self.segments if seg_tag == tag]

    def first(self, tag):
        found = self.find(tag)
        return found[0] if found else None


@dataclass
class Interchange:
    standard: str
    sender: str = None
    sender_qualifier: str = None
    recipient: str = None
    recipient_qualifier: str = None
    control: str = None
    version: str = None
    #: X12: GS01 (functional identifier), GS06, GS08
    group_function: str = None
    group_control: str = None
    group_version: str = None
    #: the interchange's date and time (ISA09/10, UNB 0017/0019), ISO 8601
    moment: str = None
    transactions: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    separators: tuple = ()

    def error(self, segment, position, element, message, transaction=None, code=None):
        self.errors.append(
            EnvelopeError(segment, position, element, message, transaction, code)
        )


def value(elements, position, component=1):
    """Element ``position`` (1-based) of a segment, its ``component`` when
    composite; "" when absent."""
    if not elements or position > len(elements):
        return ""
    item = elements[position - 1]
    if isinstance(item, list):
        return item[component - 1] if component <= len(item) else ""
    return item if component == 1 else ""


def iso_moment(date_text, time_text):
    """YYMMDD or CCYYMMDD and HHMM -> ISO 8601 UTC; None when unreadable."""
    try:
        fmt = "%Y%m%d%H%M" if len(date_text) == 8 else "%y%m%d%H%M"
        return datetime.strptime(date_text + time_text[:4], fmt).isoformat() + "Z"
    except (TypeError, ValueError):
        return None


def detect_standard(text):
    head = text.lstrip()[:3]
    if head == "ISA":
        return X12
    if head in ("UNA", "UNB"):
        return EDIFACT
    return None


def parse(text):
    """The :class:`Interchange` of ``text``; an unreadable one has errors."""
    standard = detect_standard(text)
    if standard == X12:
        return parse_x12(text)
    if standard == EDIFACT:
        return parse_edifact(text)
    interchange = Interchange(standard=None)
    interchange.error("ISA", 1, 0, "The file starts with neither ISA nor UNA/UNB.")
    return interchange


# -- X12 ---------------------------------------------------------------------


def _x12_elements(segment):
    elements = []
    for index in range(1, len(segment) + 1):
        item = segment.get(f"{index:02d}")
        if item is None:
            elements.append("")
        elif item.is_composite():
            elements.append([item[i].get_value() for i in range(len(item))])
        else:
            elements.append(item.get_value())
    return elements


def parse_x12(text):
    interchange = Interchange(standard=X12)
    try:
        reader = X12Reader(io.StringIO(text.lstrip()))
    except X12Error as err:
        interchange.error("ISA", 1, 0, str(err))
        return interchange
    interchange.separators = (reader.seg_term, reader.ele_term, reader.subele_term)
    current = None
    position = 0
    try:
        for segment in reader:
            position += 1
            tag = segment.get_seg_id()
            elements = _x12_elements(segment)
            owner = current
            if tag == "ISA":
                interchange.sender_qualifier = value(elements, 5).strip()
                interchange.sender = value(elements, 6).strip()
                interchange.recipient_qualifier = value(elements, 7).strip()
                interchange.recipient = value(elements, 8).strip()
                interchange.version = value(elements, 12)
                interchange.control = value(elements, 13)
                interchange.moment = iso_moment(value(elements, 9), value(elements, 10))
            elif tag == "GS":
                interchange.group_function = value(elements, 1)
                interchange.group_control = value(elements, 6)
                interchange.group_version = value(elements, 8)
            elif tag == "ST":
                current = Transaction(
                    code=value(elements, 1),
                    control=value(elements, 2),
                    version=interchange.group_version,
                    position=position,
                )
                interchange.transactions.append(current)
                owner = current
            elif tag == "SE":
                current = None
            elif tag not in ("GE", "IEA") and current is not None:
                current.segments.append((tag, elements))
            for kind, code, message, _value, _line in reader.pop_errors():
                _x12_error(interchange, kind, code, message, tag, position, owner)
        reader.cleanup()
    except X12Error as err:
        interchange.error("ISA", 1, 0, str(err))
        return interchange
    for kind, code, message, _value, _line in reader.pop_errors():
        _x12_error(interchange, kind, code, message, None, position + 1, None)
    if not interchange.transactions and not interchange.errors:
        interchange.error(
            "ST", position, 0, "The interchange holds no transaction set."
        )
    return interchange


def _x12_error(interchange, kind, code, message, tag, position, transaction):
    segment, element = X12_ERROR_ELEMENTS.get((kind, code), (tag or "ISA", 0))
    interchange.error(
        segment,
        position,
        element,
        message,
        transaction=transaction.control if transaction else None,
        code=code,
    )


def x12_segment(separators, tag, *elements):
    seg_term, ele_term, subele_term = separators
    parts = [tag]
    for item in elements:
        if isinstance(item, list | tuple):
            item = subele_term.join(str(part) for part in item)
        parts.append("" if item is None else str(item))
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()  # no trailing element separators
    return X12Segment(ele_term.join(parts), seg_term, ele_term, subele_term)


def write_x12(envelope, transactions, separators=("~", "*", ">")):
    """An X12 interchange of one functional group.

    :param envelope: dict with the ISA values ``sender_qualifier``,
        ``sender``, ``recipient_qualifier``, ``recipient``, ``date``
        (datetime), ``control`` (int), ``version`` (``00401``/``00501``),
        ``usage`` (P/T) and the GS values ``function``, ``gs_sender``,
        ``gs_recipient``, ``gs_version`` (``004010``/``005010``)
    :param transactions: [(code, control number, [(tag, *elements)])]
    """
    seg_term, ele_term, subele_term = separators
    buffer = io.StringIO()
    writer = X12Writer(
        buffer,
        seg_term=seg_term,
        ele_term=ele_term,
        subele_term=subele_term,
        eol="\n",
        repetition_term="^",
    )
    date = envelope["date"]
    control = f"{envelope['control']:09d}"
    repetition = "^" if envelope["version"] == "00501" else "U"
    writer.Write(
        x12_segment(
            separators,
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            envelope["sender_qualifier"].ljust(2),
            envelope["sender"].ljust(15),
            envelope["recipient_qualifier"].ljust(2),
            envelope["recipient"].ljust(15),
            f"{date:%y%m%d}",
            f"{date:%H%M}",
            repetition,
            envelope["version"],
            control,
            "0",
            envelope.get("usage") or "P",
            subele_term,
        )
    )
    writer.Write(
        x12_segment(
            separators,
            "GS",
            envelope["function"],
            envelope["gs_sender"],
            envelope["gs_recipient"],
            f"{date:%Y%m%d}",
            f"{date:%H%M}",
            str(envelope["control"]),
            "X",
            envelope["gs_version"],
        )
    )
    for index, (code, number, segments) in enumerate(transactions):
        if index:
            writer.Write(x12_segment(separators, "SE"))
        writer.Write(x12_segment(separators, "ST", code, f"{number:04d}"))
        for tag, *elements in segments:
            writer.Write(x12_segment(separators, tag, *elements))
    writer.close()
    return buffer.getvalue()


# -- EDIFACT -------------------------------------------------------------------


def _edifact_elements(segment):
    return [
        list(item) if isinstance(item, list | tuple) else (item or "")
        for item in segment.elements
    ]


def parse_edifact(text):
    interchange = Interchange(standard=EDIFACT)
    try:
        with warnings.catch_warnings():
            # pydifact warns for every segment it has no XML directory for
            warnings.simplefilter("ignore")
            segments = list(Parser().parse(text.strip()))
    except EDISyntaxError as err:
        interchange.error("UNB", 1, 0, str(err))
        return interchange
    segments = [s for s in segments if s.tag != "UNA"]
    if not segments or segments[0].tag != "UNB":
        tag = segments[0].tag if segments else "UNB"
        interchange.error(tag, 1, 0, "The interchange does not open with UNB.")
        return interchange
    reader = _EdifactReader(interchange)
    for position, segment in enumerate(segments, start=1):
        reader.feed(position, segment.tag, _edifact_elements(segment))
    if not reader.trailer_seen:
        interchange.error("UNZ", len(segments) + 1, 0, "The interchange has no UNZ.")
    if not interchange.transactions and not interchange.errors:
        interchange.error("UNH", len(segments), 0, "The interchange holds no message.")
    return interchange


class _EdifactReader:
    """Follows an EDIFACT interchange segment by segment, counting what its
    UNT and UNZ trailers must count."""

    def __init__(self, interchange):
        self.interchange = interchange
        self.current = None
        self.count = 0
        self.messages = 0
        self.trailer_seen = False

    def feed(self, position, tag, elements):
        handler = getattr(self, f"_{tag.lower()}", None)
        if tag in ("UNB", "UNH", "UNT", "UNZ"):
            handler(position, elements)
        elif self.current is not None:
            self.count += 1
            self.current.segments.append((tag, elements))

    def _unclosed(self, position):
        if self.current is not None:
            control = self.current.control
            self.interchange.error(
                "UNT", position, 0, f"Message {control} has no UNT.", control
            )
            self.current = None

    def _unb(self, position, elements):
        interchange = self.interchange
        interchange.version = value(elements, 1, 2)
        interchange.sender = value(elements, 2, 1)
        interchange.sender_qualifier = value(elements, 2, 2)
        interchange.recipient = value(elements, 3, 1)
        interchange.recipient_qualifier = value(elements, 3, 2)
        interchange.control = value(elements, 5)
        interchange.moment = iso_moment(value(elements, 4, 1), value(elements, 4, 2))

    def _unh(self, position, elements):
        self._unclosed(position)
        self.messages += 1
        self.count = 1
        self.current = Transaction(
            code=value(elements, 2, 1),
            control=value(elements, 1),
            version=value(elements, 2, 2) + value(elements, 2, 3),
            position=position,
        )
        self.interchange.transactions.append(self.current)

    def _unt(self, position, elements):
        self.count += 1
        current = self.current
        if current is None:
            self.interchange.error("UNT", position, 0, "UNT without UNH.")
            return
        if value(elements, 2) != current.control:
            self.interchange.error(
                "UNT",
                position,
                2,
                f"UNT reference {value(elements, 2)} does not match UNH "
                f"reference {current.control}.",
                current.control,
            )
        if value(elements, 1) != str(self.count):
            self.interchange.error(
                "UNT",
                position,
                1,
                f"UNT counts {value(elements, 1)} segments in message "
                f"{current.control}, which has {self.count}.",
                current.control,
            )
        self.current = None

    def _unz(self, position, elements):
        self.trailer_seen = True
        self._unclosed(position)
        interchange = self.interchange
        if value(elements, 2) != interchange.control:
            interchange.error(
                "UNZ",
                position,
                2,
                f"UNZ reference {value(elements, 2)} does not match UNB "
                f"reference {interchange.control}.",
            )
        if value(elements, 1) != str(self.messages):
            interchange.error(
                "UNZ",
                position,
                1,
                f"UNZ counts {value(elements, 1)} messages; the interchange "
                f"holds {self.messages}.",
            )


def _text(item):
    """An element as pydifact writes it: strings, composites as lists."""
    if isinstance(item, list | tuple):
        return [_text(part) for part in item]
    return "" if item is None else str(item)


def write_edifact(envelope, messages):
    """An EDIFACT interchange (syntax UNOA 3, default separators, UNA given).

    :param envelope: ``sender``, ``sender_qualifier``, ``recipient``,
        ``recipient_qualifier``, ``date`` (datetime), ``control`` (int)
    :param messages: [(type, version, release, control number, association
        code, [(tag, *elements)])]
    """
    interchange = EdifactInterchange(
        sender=[envelope["sender"], envelope["sender_qualifier"]],
        recipient=[envelope["recipient"], envelope["recipient_qualifier"]],
        control_reference=str(envelope["control"]),
        syntax_identifier=("UNOA", 3),
        timestamp=envelope["date"],
    )
    for msg_type, version, release, number, association, segments in messages:
        identifier = [msg_type, version, release, "UN"]
        if association:
            identifier.append(association)
        message = EdifactMessage(str(number), identifier)
        for tag, *elements in segments:
            message.add_segment(EdifactSegment(tag, *[_text(e) for e in elements]))
        interchange.add_message(message)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return "UNA:+.? '" + interchange.serialize(break_lines=True)
