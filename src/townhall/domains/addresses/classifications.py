"""BLPU classification codes and what they mean, from the AddressBase classification scheme.

This module owns turning a property's classification code ("RD04", "CR08", "PP") into words
("Terraced", "Shop / Showroom", "Property Shell"). The scheme is hierarchical: a primary letter
(R residential), a secondary letter (RD dwelling), a tertiary pair of digits (RD04 terraced) and
sometimes a quaternary pair of letters (ZW99CH church). Codes unknown to the scheme give None.
"""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    # Commercial
    "C": "Commercial",
    "CA": "Agricultural",
    "CB": "Ancillary Building",
    "CC": "Community Services",
    "CC02": "Law Court",
    "CC03": "Prison",
    "CC04": "Public / Village Hall / Other Community Facility",
    "CC05": "Public Convenience",
    "CC06": "Cemetery / Crematorium / Graveyard",
    "CC07": "Church Hall / Religious Meeting Place / Hall",
    "CC08": "Community Service Centre / Office",
    "CC09": "Public Household Waste Recycling Centre",
    "CC10": "Recycling Site",
    "CC11": "CCTV",
    "CC12": "Job Centre",
    "CE": "Education",
    "CE01": "College",
    "CE02": "Children's Nursery / Creche",
    "CE03": "Preparatory / First / Primary / Infant / Junior / Middle School",
    "CE04": "Secondary / High School",
    "CE05": "University",
    "CE06": "Special Needs Establishment",
    "CE07": "Other Educational Establishment",
    "CH": "Hotel / Motel / Boarding / Guest House",
    "CH01": "Boarding / Guest House / Bed And Breakfast / Youth Hostel",
    "CH02": "Holiday Let / Accommodation / Short-Term Let Other Than CH01",
    "CH03": "Hotel / Motel",
    "CI": "Industrial Applicable to manufacturing, engineering, maintenance, storage / "
    "wholesale distribution and extraction sites",
    "CI01": "Factory / Manufacturing",
    "CI03": "Workshop / Light Industrial",
    "CI04": "Warehouse / Store / Storage Depot",
    "CL": "Leisure - Applicable to recreational sites and enterprises",
    "CL01": "Amusements",
    "CL02": "Holiday / Campsite",
    "CL03": "Library",
    "CL04": "Museum / Gallery",
    "CL06": "Indoor / Outdoor Leisure / Sporting Activity / Centre",
    "CL07": "Bingo Hall / Cinema / Conference / Exhibition Centre / Theatre / Concert Hall",
    "CL08": "Zoo / Theme Park",
    "CL09": "Beach Hut (Recreational, Non-Residential Use Only)",
    "CL10": "Licensed Private Members' Club",
    "CL11": "Arena / Stadium",
    "CM": "Medical",
    "CM01": "Dentist",
    "CM02": "General Practice Surgery / Clinic",
    "CM03": "Hospital / Hospice",
    "CM04": "Medical / Testing / Research Laboratory",
    "CM05": "Professional Medical Service",
    "CN": "Animal Centre",
    "CN01": "Cattery / Kennel",
    "CN02": "Animal Services",
    "CO": "Office",
    "CO01": "Office / Work Studio",
    "CO02": "Broadcasting (TV / Radio)",
    "CR": "Retail",
    "CR01": "Bank / Financial Service",
    "CR02": "Retail Service Agent",
    "CR04": "Market (Indoor / Outdoor)",
    "CR05": "Petrol Filling Station",
    "CR06": "Public House / Bar / Nightclub",
    "CR07": "Restaurant / Cafeteria",
    "CR08": "Shop / Showroom",
    "CR09": "Other Licensed Premise / Vendor",
    "CR10": "Fast Food Outlet / Takeaway (Hot / Cold)",
    "CR11": "Automated Teller Machine (ATM)",
    "CS": "Storage Land",
    "CT": "Transport",
    "CT01": "Airfield / Airstrip / Airport / Air Transport Infrastructure Facility",
    "CT02": "Bus Shelter",
    "CT03": "Car / Coach / Commercial Vehicle / Taxi Parking / Park And Ride Site",
    "CT04": "Goods Freight Handling / Terminal",
    "CT06": "Internal Combustion Engine Vehicle Charging Point / Electric Vehicle Charging Point",
    "CT07": "Railway Asset",
    "CT08": "Station / Interchange / Terminal / Halt",
    "CT11": "Transport Related Infrastructure",
    "CU": "Utility",
    "CU01": "Electricity Sub-Station",
    "CU04": "Pump House / Pumping Station / Water Tower",
    "CU06": "Telecommunication",
    "CU11": "Post Box",
    "CX": "Emergency / Rescue Service",
    "CX01": "Police / Transport Police / Station",
    "CX02": "Fire Station",
    "CX03": "Ambulance Station",
    "CZ": "Information",
    # Land
    "L": "Land",
    "LA": "Agricultural - Applicable to land in farm ownership and not run as a separate "
    "business enterprise",
    "LB": "Ancillary Building",
    "LC": "Burial Ground",
    "LD": "Development",
    "LD01": "Development Site",
    "LF": "Forestry",
    "LL": "Allotment",
    "LM": "Amenity - Open areas not attracting visitors",
    "LO": "Open Space",
    "LP": "Park",
    "LP01": "Public Park / Garden",
    "LP02": "Public Open Space / Nature Reserve",
    "LP03": "Playground",
    "LP04": "Private Park / Garden",
    "LU": "Unused Land",
    "LW": "Water",
    # Military
    "M": "Military",
    # Other (ordnance survey only)
    "O": "Other (Ordnance Survey Only)",
    # Parent shell
    "P": "Parent Shell",
    "PP": "Property Shell",
    "PS": "Street Record",
    # Residential
    "R": "Residential",
    "RB": "Ancillary Building",
    "RC": "Car Park Space",
    "RC01": "Allocated Parking",
    "RD": "Dwelling",
    "RD01": "Caravan",
    "RD02": "Detached",
    "RD03": "Semi-Detached",
    "RD04": "Terraced",
    "RD06": "Self Contained Flat (Includes Maisonette / Apartment)",
    "RD07": "House Boat",
    "RD08": "Sheltered Accommodation",
    "RD10": "Privately Owned Holiday Caravan / Chalet",
    "RG": "Garage",
    "RG02": "Lock-Up Garage / Garage Court",
    "RH": "House In Multiple Occupation",
    "RH01": "HMO Parent",
    "RH02": "HMO Bedsit / Other Non Self Contained Accommodation",
    "RH03": "HMO Not Further Divided",
    "RI": "Residential Institution",
    "RI01": "Care / Nursing Home",
    "RI02": "Communal Residence",
    "RI03": "Residential Education",
    # Unclassified
    "U": "Unclassified",
    "UC": "Awaiting Classification",
    "UP": "Pending Internal Investigation",
    # Dual use
    "X": "Dual Use",
    # Object of interest
    "Z": "Object of Interest",
    "ZA": "Archaeological Dig Site",
    "ZM": "Monument",
    "ZS": "Stately Home",
    "ZU": "Underground Feature",
    "ZV": "Other Underground Feature",
    "ZW": "Place Of Worship",
    "ZW99": "Place Of Worship",
    "ZW99AB": "Abbey",
    "ZW99CA": "Cathedral",
    "ZW99CH": "Church",
    "ZW99CP": "Chapel",
    "ZW99GU": "Gurdwara",
    "ZW99MQ": "Mosque",
    "ZW99SU": "Synagogue",
    "ZW99TP": "Temple",
}


def describe(code: str | None) -> str | None:
    """The description of a classification code ("RD04" -> "Terraced"); None if unknown."""
    if not code:
        return None
    return DESCRIPTIONS.get(code.strip().upper())


def primary_description(code: str | None) -> str | None:
    """The description of the code's primary class ("RD04" -> "Residential")."""
    if not code:
        return None
    return DESCRIPTIONS.get(code.strip().upper()[:1])


def is_known_prefix(prefix: str) -> bool:
    """Whether some code of the scheme starts with ``prefix`` ("R", "RD", "RD04")."""
    wanted = prefix.strip().upper()
    return bool(wanted) and any(code.startswith(wanted) for code in DESCRIPTIONS)
