"""Code tables a new institution starts with (SPEC section 1.8). Staff edit them afterwards.

Alma's lists are per institution and partly unknown (SPEC section 11); these defaults are the
values seen in real records plus what a typical academic library uses.
"""

from __future__ import annotations

CodeList = tuple[tuple[str, str], ...]

DEFAULT_CODE_TABLES: dict[str, CodeList] = {
    "AddNewUserOptions": (("PUBLIC", "Public"), ("STAFF", "Staff"), ("CONTACT", "Contact")),
    "UserGroups": (
        ("UNDERGRAD", "Undergraduate"),
        ("GRAD", "Graduate"),
        ("FACULTY", "Faculty"),
        ("STAFF", "Staff"),
        ("ALUMNI", "Alumni"),
        ("COMMUNITY", "Community borrower"),
        ("VENDOR", "Vendor contact"),
    ),
    "UserIdentifierTypes": (
        ("BARCODE", "Barcode"),
        ("UNIV_ID", "University ID"),
        ("INST_ID", "Institution ID"),
        ("NET_ID", "Network ID"),
        ("ORCID", "ORCID"),
        ("OTHER_ID_1", "Additional ID 1"),
    ),
    "UserRoleStatus": (("ACTIVE", "Active"), ("INACTIVE", "Inactive"), ("NEW", "New")),
    "NoteTypes": (
        ("ADDRESS", "Address"),
        ("BARCODE", "Barcode"),
        ("CIRCULATION", "Circulation"),
        ("ERP", "ERP"),
        ("GENERAL", "General"),
        ("LIBRARY", "Library"),
        ("OTHER", "Other"),
        ("POPUP", "Pop-up"),
        ("REGISTAR", "Registrar"),
    ),
    "UserBlockTypes": (("GENERAL", "General"), ("LOAN", "Loan"), ("REQUEST", "Request")),
    "UserBlockDescription": (
        ("01-GLOBAL", "Block (01)(GLOBAL)"),
        ("02-GLOBAL", "Block (02)(GLOBAL)"),
        ("CONSORTIA", "Consortia block"),
        ("LOST_CARD", "Lost card"),
        ("OVERDUE", "Overdue items"),
    ),
    "UserAddressTypes": (
        ("home", "Home"),
        ("work", "Work"),
        ("school", "School"),
        ("alternative", "Alternative"),
    ),
    "UserEmailTypes": (
        ("personal", "Personal"),
        ("work", "Work"),
        ("school", "School"),
        ("alternative", "Alternative"),
    ),
    "UserPhoneTypes": (
        ("home", "Home"),
        ("mobile", "Mobile"),
        ("office", "Office"),
        ("officeFax", "Office fax"),
    ),
    "UserWebAddressTypes": (("personal", "Personal"), ("work", "Work")),
    "UserPreferredLanguage": (
        ("en", "English"),
        ("de", "German"),
        ("fr", "French"),
        ("es", "Spanish"),
        ("it", "Italian"),
        ("nl", "Dutch"),
        ("no", "Norwegian"),
    ),
    "UserStatCategories": (
        ("LOCAL", "Local"),
        ("Graduate", "Graduate"),
        ("Undergraduate", "Undergraduate"),
        ("RESIDENT", "Resident"),
    ),
    "UserStatisticalTypes": (("COLLEGE", "College"), ("DEPARTMENT", "Department")),
    "UserUserType": (("PUBLIC", "Public"), ("STAFF", "Staff"), ("CONTACT", "Contact")),
    "Genders": (("MALE", "Male"), ("FEMALE", "Female"), ("OTHER", "Other"), ("NONE", "None")),
    "CatalogerLevel": (
        ("00", "[00] Default Level (00)"),
        ("20", "[20] Intermediate (20)"),
        ("40", "[40] Senior (40)"),
    ),
    "JobTitles": (
        ("Cataloger", "Cataloger"),
        ("Librarian", "Librarian"),
        ("Circulation", "Circulation staff"),
        ("Instructor", "Instructor"),
        ("Student", "Student"),
    ),
    "UserTitles": (("Dr", "Dr."), ("Mr", "Mr."), ("Ms", "Ms."), ("Mx", "Mx."), ("Prof", "Prof.")),
    "CountryCodes": (
        ("USA", "United States"),
        ("CAN", "Canada"),
        ("GBR", "United Kingdom"),
        ("DEU", "Germany"),
        ("FRA", "France"),
        ("CHE", "Switzerland"),
        ("NOR", "Norway"),
        ("NLD", "Netherlands"),
        ("AUS", "Australia"),
    ),
    "Campuses": (("Main", "Main campus"),),
    "LibraryNoticesOptInDisplay": (
        ("FulUserBorrowingActivityLetter", "Borrowing activity letter"),
        ("FulUserOverdueLetter", "Overdue letter"),
    ),
    "ContentStructureStatus": (("ACTIVE", "Active"), ("INACTIVE", "Inactive")),
    "UserAccountTypes": (("INTERNAL", "Internal"), ("EXTERNAL", "External")),
    "UserStatus": (("ACTIVE", "Active"), ("INACTIVE", "Inactive")),
    "HFrUserRoles.roleType": (
        ("21", "User Manager"),
        ("26", "General System Administrator"),
        ("32", "Circulation Desk Operator"),
        ("50", "User Administrator"),
        ("51", "Requests Operator"),
        ("52", "Fulfillment Administrator"),
        ("200", "Patron"),
        ("204", "Cataloger"),
        ("221", "Circulation Desk Manager"),
        ("299", "Circulation Desk Operator Limited"),
    ),
}

# Which user groups each record type may use (Alma's record-type/user-group mapping).
DEFAULT_GROUP_RECORD_TYPES: dict[str, tuple[str, ...]] = {
    "UNDERGRAD": ("PUBLIC",),
    "GRAD": ("PUBLIC",),
    "FACULTY": ("PUBLIC", "STAFF"),
    "STAFF": ("PUBLIC", "STAFF"),
    "ALUMNI": ("PUBLIC",),
    "COMMUNITY": ("PUBLIC",),
    "VENDOR": ("CONTACT",),
}
