"""The cheap tier end to end: table of texts -> (type, exact original substring)."""

from __future__ import annotations

import itertools

import pytest

from hybridgate.detect.pii import PiiDetector, build_detector
from hybridgate.detect.pii.names import person_shaped, plausible_name
from hybridgate.settings import DetectionConfig

DETECT = PiiDetector("all")

POSITIVES: list[tuple[str, str, str]] = [
    # contact
    ("mail me at jane.doe+x@example.co.uk today", "EMAIL_ADDRESS", "jane.doe+x@example.co.uk"),
    ("call +1 (954) 487-7934 now", "PHONE_NUMBER", "+1 (954) 487-7934"),
    ("UK office +44 20 7952 7952.", "PHONE_NUMBER", "+44 20 7952 7952"),
    ("phone: 9544877934", "PHONE_NUMBER", "9544877934"),
    # government / financial
    ("SSN: 482-32-7682.", "US_SSN", "482-32-7682"),
    ("ssn 482327682", "US_SSN", "482327682"),
    ("card 4111 1111 1111 1111 exp 12/29", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("IBAN GB29 NWBK 6016 1331 9268 19", "IBAN_CODE", "GB29 NWBK 6016 1331 9268 19"),
    ("to DE89370400440532013000 please", "IBAN_CODE", "DE89370400440532013000"),
    ("Account: 10168142", "BANK_ACCOUNT", "10168142"),
    ("NI number AB 12 34 56 C", "NATIONAL_ID", "AB 12 34 56 C"),
    ("Steuer-ID 36 574 261 809", "NATIONAL_ID", "36 574 261 809"),
    ("Aadhaar 2341 2341 2346", "NATIONAL_ID", "2341 2341 2346"),
    ("NIR 2 95 10 99 126 111 93", "NATIONAL_ID", "2 95 10 99 126 111 93"),
    # network
    ("server 52.24.225.164 is down", "IP_ADDRESS", "52.24.225.164"),
    ("v6 2001:db8:85a3::8a2e:370:7334 up", "IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
    ("mac 3e:c8:d5:df:b5:59", "MAC_ADDRESS", "3e:c8:d5:df:b5:59"),
    # health and labelled ids
    ("Patient MRN: 7095748 seen", "MRN", "7095748"),
    ("record MRN-7095748.", "MRN", "MRN-7095748"),
    ("NPI: 1234567893", "NPI", "1234567893"),
    ("DEA: AB1234563", "DEA_NUMBER", "AB1234563"),
    ("Insurance ID: INS-797861270", "HEALTH_ID", "INS-797861270"),
    ("member id W123456789", "HEALTH_ID", "W123456789"),
    ("Passport: P5V113775", "PASSPORT", "P5V113775"),
    ("Driver's license D123-4567-8901", "DRIVER_LICENSE", "D123-4567-8901"),
    ("DOB: 1967-05-10", "DATE_OF_BIRTH", "1967-05-10"),
    ("born on March 3, 1980 in Ohio", "DATE_OF_BIRTH", "March 3, 1980"),
    # secrets
    ("key AKIAIOSFODNN7EXAMPLE here", "SECRET", "AKIAIOSFODNN7EXAMPLE"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "SECRET", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("token xoxb-123456789012-abcdefABCDEF", "SECRET", "xoxb-123456789012-abcdefABCDEF"),
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "SECRET", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("OPENAI_API_KEY=sk-proj-abcDEF123456ghiJKL789012", "SECRET", "sk-proj-abcDEF123456ghiJKL789012"),
    ("sk-ant-api03-abcdefghijklmnopqrstuvwx", "SECRET", "sk-ant-api03-abcdefghijklmnopqrstuvwx"),
    ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "SECRET", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123def", "SECRET", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123def"),
    ("postgres://app:s3cr3tPw@db.internal:5432/x", "SECRET", "app:s3cr3tPw"),
    ('DB_PASS = "jI$v0yxQBhhXSoW"', "SECRET", "jI$v0yxQBhhXSoW"),
    ("password: hunter2!", "SECRET", "hunter2!"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", "SECRET", "-----BEGIN RSA"),
    ('dbUser: "user_3888"', "USERNAME", "user_3888"),
    # names and addresses
    ("Patient: Dorothy Robinson seen", "PERSON", "Dorothy Robinson"),
    ("signed by Dr. Sarah Wright", "PERSON", "Sarah Wright"),
    ("my name is Kevin Jones", "PERSON", "Kevin Jones"),
    ("record: A***** L****, email", "PERSON", "A***** L****"),
    ("ship to 8418 Aspen Dr, Springfield, SC 76456", "STREET_ADDRESS", "8418 Aspen Dr, Springfield, SC 76456"),
    ("Beneficiary: Mercédesz Szôllôssy", "PERSON", "Mercédesz Szôllôssy"),  # Latin diacritics
    ("Have you met Mrs. Pavlović?", "PERSON", "Pavlović"),
    ("I would like to remove my kid Alina from the will", "PERSON", "Alina"),
    ("Sometimes people call me Piusz", "PERSON", "Piusz"),
    ("Directed by Dr. Ravil G Yefimov", "PERSON", "Ravil G Yefimov"),  # initial without a dot
    ("Homer Portillo will speak", "PERSON", "Homer Portillo"),  # census given name + family name
    # national phone formats: trunk prefix, odd grouping, a label after the number
    ("Phone: 0378 3549890", "PHONE_NUMBER", "0378 3549890"),
    ("Can someone call me on 01.84.17.61.18?", "PHONE_NUMBER", "01.84.17.61.18"),
    ("not answering at 079 2718 1155", "PHONE_NUMBER", "079 2718 1155"),
    ("+46 (0)8 928 571 38 fax", "PHONE_NUMBER", "+46 (0)8 928 571 38"),
    ("082 490 1693-Office", "PHONE_NUMBER", "082 490 1693"),
    ("416 60 039 office", "PHONE_NUMBER", "416 60 039"),
    # bank: lower-case IBAN, SWIFT/BIC, ABA routing with its checksum
    ("my iban is gb29nwbk60161331926819", "IBAN_CODE", "gb29nwbk60161331926819"),
    ("Record shows CHASUS33.", "BANK_ACCOUNT", "CHASUS33"),
    ("swift: DEUTDEFF", "BANK_ACCOUNT", "DEUTDEFF"),
    ("Record shows 021000021.", "BANK_ACCOUNT", "021000021"),
    # usernames: URL query, "@handle", prose
    ("GET /profile?user=sarahw593&email=sarah.w@example.com", "USERNAME", "sarahw593"),
    ("Record shows @johnsmith42.", "USERNAME", "@johnsmith42"),
    ("follow @bobsmith on twitter", "USERNAME", "@bobsmith"),
    ("my email handle is elizabeth.king33.", "USERNAME", "elizabeth.king33"),
    # a labelled value that names its own kind
    ("Insurance ID: NID-900041265", "NATIONAL_ID", "NID-900041265"),
    # US military mail
    ("PSC 6293, Box 8158\nAPO AP 04336", "STREET_ADDRESS", "PSC 6293, Box 8158\nAPO AP 04336"),
    ("USNS Møller\nFPO AA 85844", "STREET_ADDRESS", "USNS Møller\nFPO AA 85844"),
    # a bare long number in a record that already holds an identifier
    ("x|4000-0000-0089-0553|10312897|MRN-1031289", "OTHER_ID", "10312897"),
]


@pytest.mark.parametrize(("text", "typ", "value"), POSITIVES, ids=[p[0][:40] for p in POSITIVES])
def test_finds(text: str, typ: str, value: str) -> None:
    found = {(f.type, text[f.start : f.end]) for f in DETECT.detect(text)}
    assert any(t == typ and s.startswith(value) for t, s in found), found


NEGATIVES = [
    "Natalia sold clips to 48 friends in April, and then she sold half as many clips in May.",
    "The order total was 1,234.56 dollars on 2024-03-01 at 10:30.",
    "Version 3.11.4 fixed 2 bugs; see RFC-7231 and ISO-27001.",
    "SSN-shaped but invalid: 000-12-3456 and 666-45-6789.",
    "order 4111111111111112 shipped",  # 16 digits failing Luhn, not grouped, not labelled
    "internationalization and localization are long words",
    "The train travels 120 miles per hour for 3 hours.",
    "Please read the DOCUMENT before the MEETING.",  # all-letter words shaped like a BIC, unlabelled
    "The order 123456789 shipped; she earns 12345678 a year.",  # bare numbers without any identifier
    "I have 3 apples and 12 345 pears, 1 200 000 grains and 10 20 30 40.",
    "@lru_cache\ndef f():\n    @app.get('/x')\n    pass",  # decorators, not handles
    "the user is happy and my handle is fine",
    "Will Smith may win; June was warm.",  # census names that are common words do not start a name
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_finds_nothing(text: str) -> None:
    assert PiiDetector("with_context").detect(text) == []


OBFUSCATED = [
    ("Contact at amanda.scott99@zoho\u200b.com", "EMAIL_ADDRESS", "amanda.scott99@zoho\u200b.com"),
    ("Email: dorothy.florеs85@zoho.com", "EMAIL_ADDRESS", "dorothy.florеs85@zoho.com"),  # Cyrillic е
    ("GET /u?email=jessica.smith19%40gmail.com&x=1", "EMAIL_ADDRESS", "jessica.smith19%40gmail.com"),
    ("SSN 833-64-209l scanned", "US_SSN", "833-64-209l"),  # OCR l for 1
    ("SSN: ４８２-３２-７６８２", "US_SSN", "４８２-３２-７６８２"),  # fullwidth digits
    ("phone \u202e+1 (503) 739-7127\u202c", "PHONE_NUMBER", "+1 (503) 739-7127"),
    ("encoded: am9obi5kb2VAZXhhbXBsZS5jb20 ok", "EMAIL_ADDRESS", "am9obi5kb2VAZXhhbXBsZS5jb20"),
    ("hex 6a6f686e2e646f65406578616d706c652e636f6d", "EMAIL_ADDRESS", "6a6f686e2e646f65406578616d706c652e636f6d"),
]


@pytest.mark.parametrize(("text", "typ", "value"), OBFUSCATED, ids=[o[0][:30] for o in OBFUSCATED])
def test_obfuscations_map_back_to_original_offsets(text: str, typ: str, value: str) -> None:
    found = {(f.type, text[f.start : f.end]) for f in DETECT.detect(text)}
    assert (typ, value) in found, found


@pytest.mark.parametrize(
    ("policy", "text", "has_name"),
    [
        ("with_context", "Natalia sold clips to 48 friends.", False),
        ("with_context", "Natalia, natalia@example.org, sold clips.", True),  # contact detail
        ("with_context", "Janet was diagnosed with diabetes.", True),  # health fact
        ("with_context", "Ask Natalia Lopez about it.", True),  # full name
        ("with_context", "Mrs. Schwarz flew to Zurich on Monday.", True),  # a title points at someone
        ("with_context", "Mr. Sanchez bought 3 apples. How many are left?", False),  # exercise character
        ("with_context", "My daughter Alina starts school.", True),  # someone the writer knows
        ("with_context", "People call me Piusz.", True),
        ("with_context", "What's your last name? Matthíasson", True),
        ("with_context", "Diana is from Cloudmade.", False),  # a lone given name, nothing about her
        ("except_exercises", "Diana is from Cloudmade.", True),
        ("except_exercises", "Diana has 3 cats and buys 2 more. How many cats does she have?", False),
        ("except_exercises", "Weather in Paris?", True),  # a given name that is also a place
        ("likely_person", "Diana is from Cloudmade.", True),  # a lone name in a message about someone
        ("likely_person", "Enrico shouted at Gary.", True),
        ("likely_person", "Diana has 3 cats and buys 2 more. How many cats does she have?", False),
        ("likely_person", "Weather in Paris?", False),  # known place
        ("likely_person", "What is the capital of France?", False),
        ("likely_person", "We moved to Tyler, Texas last spring.", False),  # ", <known place>"
        ("likely_person", "The best barbecue in Marion is on Main Street.", False),  # locative word
        ("likely_person", "Grant aid covers tuition.", False),  # an ordinary word that is a census name
        ("likely_person", "Ask Sofia Lima about it.", True),  # two place words make a full name
        ("likely_person", "Mr. Sanchez bought 3 apples. How many are left?", False),
        ("likely_person", "Patient: Dorothy Robinson", True),
        ("all", "Mr. Sanchez bought 3 apples. How many are left?", True),
        ("off", "Patient: Dorothy Robinson, MRN-7095748", False),
    ],
)
def test_names_policy(policy: str, text: str, has_name: bool) -> None:
    det = build_detector(DetectionConfig(names_policy=policy))  # type: ignore[arg-type]
    assert any(f.type == "PERSON" for f in det.detect(text)) is has_name


def test_findings_are_disjoint_and_sorted() -> None:
    text = "Patient: Dorothy Robinson MRN: MRN-9205223 DOB: 1967-05-10 phone +1 (954) 487-7934"
    found = DETECT.detect(text)
    assert [f.start for f in found] == sorted(f.start for f in found)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    assert {f.detector for f in found} == {"pii"}


@pytest.mark.parametrize(
    ("span", "person"),
    [
        ("Faina D. Yefremova", True),  # a middle initial
        ("Natalia Lopez", True),  # a known given name first
        ("Beverly Hills", False),  # a given name, then a place word
        ("Acme Corp", False),
        ("Cozy Homes", False),  # no given name, no initial
        ("New York", False),
        ("Natalia", False),  # one word: the names policy decides on lone names
    ],
)
def test_person_shaped_spans(span: str, person: bool) -> None:
    assert person_shaped(span) is person


@pytest.mark.parametrize(
    ("text", "span", "plausible"),
    [
        ("Diana is from Cloudmade.", "Diana", True),
        ("Nikolaj N Møller will talk.", "Nikolaj N Møller", True),  # an initial without a dot
        ("Weather in Paris?", "Paris", False),  # a known place
        ("Flights to Georgia are cheap.", "Georgia", False),
        ("Which? A. Wrong B. Right", "A. Wrong", False),  # an enumerated option
        ("Answer: C. Na2S\nD. NaCl", "C. Na2S\nD. NaCl", False),  # a line break, digits
        ("see https://WholePrices.ch/", "https://WholePrices.ch/", False),  # markup
        ("The Moon is bright.", "Moon", False),  # an ordinary word
        ("they had 6: silvana and adam.", "silvana", True),  # lower-case text: lower-case names
        ("Then silvana left.", "silvana", False),  # lower-case word in a capitalised text
    ],
)
def test_plausible_name(text: str, span: str, plausible: bool) -> None:
    start = text.index(span)
    assert plausible_name(text, start, start + len(span)) is plausible


# Words that end in "pass" are no password label; a prefix glued to "pass" still makes one.
PASS_LABELS: list[tuple[str, str | None]] = [
    ("compass: north", None),
    ("Compass: North-East", None),
    ("the bypass: closed since May", None),
    ("encompass: all regions", None),
    ("overpass: A1", None),
    ("underpass=x12", None),
    ("trespass: no", None),
    ("surpass: yes", None),
    ("pass: hunter2", "hunter2"),
    ("dbpass=hunter2", "hunter2"),
    ("DB_PASS=hunter2", "hunter2"),
    ("rootPass: abc123", "abc123"),
    ("compass_pass: x123", "x123"),
    ("bypass_token: abcdef", "abcdef"),
    ("admin_password: s3cret", "s3cret"),
]


@pytest.mark.parametrize(("text", "secret"), PASS_LABELS)
def test_ordinary_words_ending_in_pass_are_no_password_label(text: str, secret: str | None) -> None:
    found = [text[f.start : f.end] for f in DETECT.detect(text) if f.type == "SECRET"]
    assert found == ([secret] if secret else []), text
