# microticket part "tls", for require("microticket-tls", library="microticket") in a board manifest
# after add_library("microticket", "<repo>/boards/lib"). Modules and requirements: boards/parts.json.
PART = "tls"
with open("../part.py") as _f:
    exec(_f.read())
