"""A deterministic sandbox population: the same seed always gives the same users, as Alma
JSON records (``rest_user``), built with the standard library only.

Names come in many scripts (Latin with diacritics, Cyrillic, Greek, Arabic, Hebrew, Devanagari,
Thai, Hangul, Japanese, Chinese, Georgian); every tenth user is a staff member with roles;
every third is an external user loaded from the SIS profile ``SIS``; some carry blocks,
notes, statistics and proxies. Dates are fixed, not taken from today, so a reset always
returns to the same records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

INSTITUTION = "SANDBOX"
LIBRARY = "MAIN_LIB"
DESK = "DEFAULT_CIRC_DESK"
SIS_PROFILE = "SIS"
DEFAULT_USERS = 200
DEFAULT_SEED = 19

# (first names, last names, country, preferred language) per script.
PEOPLE: tuple[tuple[tuple[str, ...], tuple[str, ...], str, str], ...] = (
    (("Ana", "José", "Lucía", "Martín"), ("García", "Núñez", "Peña"), "ESP", "es"),
    (("Søren", "Åse", "Bjørn"), ("Kierkegård", "Ødegaard", "Løvås"), "NOR", "no"),
    (("Zoë", "Jürgen", "Günther"), ("Müller", "Schröder", "Weiß"), "DEU", "de"),
    (("Łukasz", "Małgorzata", "Zofia"), ("Wróbel", "Żółkiewska", "Kościuszko"), "POL", "pl"),
    (("Иван", "Ольга", "Дмитрий"), ("Петров", "Смирнова", "Кузнецов"), "RUS", "ru"),
    (("Ελένη", "Γιώργος", "Νίκος"), ("Παπαδοπούλου", "Οικονόμου", "Βλάχος"), "GRC", "el"),
    (("فاطمة", "محمد", "ليلى"), ("الزهراء", "الحسيني", "منصور"), "EGY", "ar"),
    (("נועה", "דוד", "שרה"), ("כהן", "לוי", "מזרחי"), "ISR", "he"),
    (("अर्जुन", "प्रिया", "राहुल"), ("शर्मा", "वर्मा", "गुप्ता"), "IND", "hi"),
    (("สมชาย", "สุดา", "ประยุทธ"), ("ใจดี", "ศรีสุข", "วงศ์ไทย"), "THA", "th"),
    (("민준", "서연", "지호"), ("김", "이", "박"), "KOR", "ko"),
    (("太郎", "花子", "翔太"), ("山田", "佐藤", "鈴木"), "JPN", "ja"),
    (("伟", "芳", "秀英"), ("王", "李", "张"), "CHN", "zh"),
    (("ნინო", "გიორგი", "თამარ"), ("ბერიძე", "კაპანაძე"), "GEO", "ka"),
    (("Chloé", "Éloïse", "François"), ("Lefèvre", "Dubois", "Girard"), "FRA", "fr"),
    (("Thandiwe", "Sipho"), ("Dlamini", "Nkosi"), "ZAF", "zu"),
    (("Jane", "Robert", "Mary"), ("Doe", "O'Brien", "Smith-Jones"), "USA", "en"),
)
PATRON_GROUPS = ("UNDERGRAD", "UNDERGRAD", "GRAD", "FACULTY", "ALUMNI", "COMMUNITY")
EXPIRY = "2030-08-31Z"
PURGE = "2031-08-31Z"


@dataclass(frozen=True, slots=True)
class SeedUser:
    record: dict[str, Any]  # Alma JSON
    password: str | None = None


def staff_password(seed: int) -> str:
    """The password every seeded staff member has (printed by ``bookplate sandbox``)."""
    return f"Sandbox-{seed}-Circulation-Desk"


def _code(value: str) -> dict[str, str]:
    return {"value": value}


def _role(kind: str, scope: str, desk: str | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {
        "status": _code("ACTIVE"), "scope": _code(scope), "role_type": _code(kind),
        "parameter": [],
    }
    if desk:
        role["parameter"] = [
            {"type": _code("CirculationDesk"), "scope": _code(LIBRARY), "value": _code(desk)}
        ]
    return role


def population(
    count: int = DEFAULT_USERS, seed: int = DEFAULT_SEED, institution: str = INSTITUTION
) -> list[SeedUser]:
    """``count`` users, the same for the same ``seed``, in creation order (a proxy's target
    always comes before the proxy)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    out: list[SeedUser] = []
    for i in range(count):
        firsts, lasts, country, language = PEOPLE[rng.randrange(len(PEOPLE))]
        first, last = rng.choice(firsts), rng.choice(lasts)
        primary_id = f"sb{i:05d}"
        staff = i % 10 == 0
        external = not staff and i % 3 == 1
        record: dict[str, Any] = {
            "primary_id": primary_id,
            "first_name": first,
            "last_name": last,
            "record_type": _code("STAFF" if staff else "PUBLIC"),
            "user_group": _code("STAFF" if staff else rng.choice(PATRON_GROUPS)),
            "account_type": _code("EXTERNAL" if external else "INTERNAL"),
            "status": _code("ACTIVE" if i % 17 else "INACTIVE"),
            "preferred_language": _code(language),
            "expiry_date": EXPIRY,
            "purge_date": PURGE,
            "contact_info": {
                "address": [{
                    "preferred": True,
                    "line1": f"{rng.randint(1, 400)} Library Street",
                    "city": "Sandbox City",
                    "postal_code": f"{rng.randint(10000, 99999)}",
                    "country": _code(country),
                    "address_type": [_code("home")],
                }],
                "email": [{
                    "preferred": True,
                    "email_address": f"{primary_id}@sandbox.example.edu",
                    "email_type": [_code("school")],
                }],
                "phone": [{
                    "preferred": True, "preferred_sms": False,
                    "phone_number": f"+1 555 01{rng.randint(10, 99)} {i:04d}",
                    "phone_type": [_code("mobile")],
                }],
            },
            "user_identifier": [
                {"id_type": _code("BARCODE"), "value": f"39{seed:04d}{i:08d}",
                 "status": "ACTIVE"},
                {"id_type": _code("UNIV_ID"), "value": f"U{seed:03d}-{i:06d}",
                 "status": "ACTIVE"},
            ],
        }
        if external:
            record["external_id"] = SIS_PROFILE
        if staff:
            roles = [_role("21", institution), _role("32", LIBRARY, DESK)]
            if i == 0:
                roles.append(_role("50", institution))  # one user administrator
            record["user_role"] = roles
            record["job_category"] = _code(rng.choice(("Librarian", "Circulation", "Cataloger")))
        if i % 7 == 3:
            record["user_block"] = [{
                "block_type": _code("GENERAL"),
                "block_description": _code(rng.choice(("OVERDUE", "LOST_CARD", "02-GLOBAL"))),
                "block_status": "ACTIVE", "block_note": "Seeded block",
                "expiry_date": "2029-12-31Z",
            }]
        if i % 5 == 2:
            record["user_note"] = [{
                "note_type": _code(rng.choice(("CIRCULATION", "GENERAL", "LIBRARY"))),
                "note_text": f"Sandbox note {rng.randint(1, 9999)}",
                "user_viewable": bool(i % 2), "popup_note": False,
            }]
        if i % 4 == 0 and not staff:
            record["user_statistic"] = [{
                "statistic_category": _code(rng.choice(("LOCAL", "Graduate", "Undergraduate"))),
                "category_type": _code("COLLEGE"),
            }]
        if i % 11 == 5 and i > 0:
            record["proxy_for_user"] = [{"primary_id": f"sb{i - 1:05d}"}]
        out.append(SeedUser(record, staff_password(seed) if staff else None))
    return out
