# Shared body of boards/lib/microticket-<part>/manifest.py (micropython-lib style: one source tree, split
# into installable parts). A part's manifest sets PART and runs this file in its own globals:
#     PART = "tls"; exec(open("../part.py").read())
# (not include(): a manifest file is run once per build, and this body runs once per part). The current
# directory is the part's directory (manifestfile changes into each manifest's directory). Reads the ONE
# list of parts, boards/parts.json: its requires become require() calls, its modules one package() call.
import json
import os

with open("../../parts.json") as _f:
    _doc = json.load(_f)
_part = _doc["parts"][PART]
metadata(description="microticket " + PART + ": " + _part["description"], version=_doc["version"])
for _dep in _part["requires"]:
    require("microticket-" + _dep, library="microticket")
_pkg = _doc["package"]
_lib = os.path.join("..", "..", "..", "lib")
# a glob leaves out the modules another part names explicitly (as tools/build.py does)
_elsewhere = [_m for _p in _doc["parts"] if _p != PART for _m in _doc["parts"][_p]["modules"]]
_files = []
for _mod in _part["modules"]:
    if _mod.endswith("/*"):
        _d = os.path.join(_lib, _pkg, _mod[:-2])
        if os.path.isdir(_d):
            _files += [_mod[:-1] + _fn for _fn in sorted(os.listdir(_d))
                       if _fn.endswith(".py") and _mod[:-1] + _fn[:-3] not in _elsewhere]
    else:
        _files.append(_mod + ".py")
package(_pkg, files=_files, base_path=_lib)
