"""Date and time formats for people (settings.FORMAT_MODULE_PATH): every date-time Django
prints, in the admin's lists and fields, carries its offset ("2026-12-04 07:30 +0800"), since
the back office's times are Shanghai's and its staff and auditors may sit elsewhere (issue 25).
Dates are ISO in both languages, as the public pages print them."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "Y-m-d H:i O"
SHORT_DATETIME_FORMAT = "Y-m-d H:i O"
