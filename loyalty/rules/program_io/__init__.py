"""Import and export of a whole programme in the programme format (docs/programme-format.md).

``program_load`` reads the format strictly: every unknown key and every invalid value is
reported with its JSON path (``tiers[1].threshold``), all problems at once, and nothing is
written unless everything is valid. The same model validation the admin runs (``full_clean``,
each rule kind's ``clean_<kind>``) runs here, so a file cannot hold what the admin refuses.

The file is the programme's full definition: on update, tiers, product sets and categories
missing from it are deleted (a tier that customers hold cannot be), rules missing from it are
deleted, or deactivated if points were already awarded by them, and outlets missing from it are
deactivated (checks and terminals' API keys point at them). Rules that belong to a campaign or a
personal offer are owned by those and are neither exported nor touched.

``program_dump`` writes the same format back: the keys docs/programme-format.md shows are always
present, the optional ones only when they differ from their defaults, and decimals as strings,
so ``program_load(data=program_dump(program=p))`` leaves ``p`` as it was.

The modules: ``reader`` (type checks and model validation reported by JSON path),
``document`` (the file's keys and the rules it covers), ``plan`` (the file read into plain
values), ``load`` (the plan written in one transaction) and ``dump``.
"""

from loyalty.rules.program_io.dump import program_dump
from loyalty.rules.program_io.load import program_load

__all__ = ["program_dump", "program_load"]
