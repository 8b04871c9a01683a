"""The post town of each UK postcode area, for the town of the borough's streets.

Royal Mail names one post town per area (some areas have several; the area's principal one is
close enough for a synthetic borough). Every London area is LONDON.
"""

from __future__ import annotations

import re

_POST_TOWNS = {
    "AB": "ABERDEEN", "AL": "ST. ALBANS", "B": "BIRMINGHAM", "BA": "BATH", "BB": "BLACKBURN",
    "BD": "BRADFORD", "BH": "BOURNEMOUTH", "BL": "BOLTON", "BN": "BRIGHTON", "BR": "BROMLEY",
    "BS": "BRISTOL", "BT": "BELFAST", "CA": "CARLISLE", "CB": "CAMBRIDGE", "CF": "CARDIFF",
    "CH": "CHESTER", "CM": "CHELMSFORD", "CO": "COLCHESTER", "CR": "CROYDON",
    "CT": "CANTERBURY", "CV": "COVENTRY", "CW": "CREWE", "DA": "DARTFORD", "DD": "DUNDEE",
    "DE": "DERBY", "DG": "DUMFRIES", "DH": "DURHAM", "DL": "DARLINGTON", "DN": "DONCASTER",
    "DT": "DORCHESTER", "DY": "DUDLEY", "E": "LONDON", "EC": "LONDON", "EH": "EDINBURGH",
    "EN": "ENFIELD", "EX": "EXETER", "FK": "FALKIRK", "FY": "BLACKPOOL", "G": "GLASGOW",
    "GL": "GLOUCESTER", "GU": "GUILDFORD", "GY": "GUERNSEY", "HA": "HARROW",
    "HD": "HUDDERSFIELD", "HG": "HARROGATE", "HP": "HEMEL HEMPSTEAD", "HR": "HEREFORD",
    "HS": "STORNOWAY", "HU": "HULL", "HX": "HALIFAX", "IG": "ILFORD", "IM": "ISLE OF MAN",
    "IP": "IPSWICH", "IV": "INVERNESS", "JE": "JERSEY", "KA": "KILMARNOCK",
    "KT": "KINGSTON UPON THAMES", "KW": "KIRKWALL", "KY": "KIRKCALDY", "L": "LIVERPOOL",
    "LA": "LANCASTER", "LD": "LLANDRINDOD WELLS", "LE": "LEICESTER", "LL": "LLANDUDNO",
    "LN": "LINCOLN", "LS": "LEEDS", "LU": "LUTON", "M": "MANCHESTER", "ME": "ROCHESTER",
    "MK": "MILTON KEYNES", "ML": "MOTHERWELL", "N": "LONDON", "NE": "NEWCASTLE UPON TYNE",
    "NG": "NOTTINGHAM", "NN": "NORTHAMPTON", "NP": "NEWPORT", "NR": "NORWICH", "NW": "LONDON",
    "OL": "OLDHAM", "OX": "OXFORD", "PA": "PAISLEY", "PE": "PETERBOROUGH", "PH": "PERTH",
    "PL": "PLYMOUTH", "PO": "PORTSMOUTH", "PR": "PRESTON", "RG": "READING", "RH": "REDHILL",
    "RM": "ROMFORD", "S": "SHEFFIELD", "SA": "SWANSEA", "SE": "LONDON", "SG": "STEVENAGE",
    "SK": "STOCKPORT", "SL": "SLOUGH", "SM": "SUTTON", "SN": "SWINDON", "SO": "SOUTHAMPTON",
    "SP": "SALISBURY", "SR": "SUNDERLAND", "SS": "SOUTHEND-ON-SEA", "ST": "STOKE-ON-TRENT",
    "SW": "LONDON", "SY": "SHREWSBURY", "TA": "TAUNTON", "TD": "GALASHIELS", "TF": "TELFORD",
    "TN": "TONBRIDGE", "TQ": "TORQUAY", "TR": "TRURO", "TS": "MIDDLESBROUGH",
    "TW": "TWICKENHAM", "UB": "SOUTHALL", "W": "LONDON", "WA": "WARRINGTON", "WC": "LONDON",
    "WD": "WATFORD", "WF": "WAKEFIELD", "WN": "WIGAN", "WR": "WORCESTER", "WS": "WALSALL",
    "WV": "WOLVERHAMPTON", "YO": "YORK", "ZE": "LERWICK",
}  # fmt: skip

_AREA = re.compile(r"^[A-Z]{1,2}")


def post_town(postcode: str) -> str:
    """The post town of a postcode's area ("N1 3GN" -> "LONDON")."""
    area = _AREA.match(postcode)
    code = area.group(0) if area else postcode
    return _POST_TOWNS.get(code, code)
