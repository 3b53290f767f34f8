"""The category ids of the school's acceptable use policy, and how public lists map onto them."""

from __future__ import annotations

CATEGORIES = (
    "child_abuse",
    "terrorist_content",
    "extremism",
    "hate_speech",
    "self_harm",
    "suicide",
    "bullying",
    "grooming",
    "pornography",
    "violence",
    "drugs",
    "gambling",
    "dating",
    "filter_bypass",
    "malware",
    "piracy",
    "social_media",
    "messaging",
    "gaming",
    "video_streaming",
    "file_sharing",
    "shopping",
    "large_download",
    "unauthorised_device",
    "monitoring_gap",
)

ILLEGAL = frozenset({"child_abuse", "terrorist_content"})

# Alerts about the network and the monitoring itself, not about what a person looked at or
# wrote: a technician may acknowledge or close them several at a time.
TECHNICAL = frozenset({"unauthorised_device", "monitoring_gap"})

# Each category's name for people, as lists and menus show it beside the id.
NAMES = {
    "child_abuse": "Child sexual abuse images",
    "terrorist_content": "Terrorist content",
    "extremism": "Extremism and radicalisation",
    "hate_speech": "Hate speech",
    "self_harm": "Self-harm",
    "suicide": "Suicide",
    "bullying": "Bullying",
    "grooming": "Grooming and exploitation",
    "pornography": "Pornography",
    "violence": "Violence and weapons",
    "drugs": "Drugs and substance misuse",
    "gambling": "Gambling",
    "dating": "Dating",
    "filter_bypass": "Getting round the filter (VPNs, proxies)",
    "malware": "Malware and phishing",
    "piracy": "Piracy",
    "social_media": "Social media",
    "messaging": "Chat and messaging",
    "gaming": "Online games",
    "video_streaming": "Video streaming",
    "file_sharing": "File sharing",
    "shopping": "Shopping",
    "large_download": "Large downloads",
    "unauthorised_device": "Unauthorised devices",
    "monitoring_gap": "Gaps in monitoring",
}

ALLOW = "allow"

UT1_MAP: dict[str, str] = {
    "adult": "pornography",
    "mixed_adult": "pornography",
    "lingerie": "pornography",
    "agressif": "violence",
    "dangerous_material": "violence",
    "drogue": "drugs",
    "gambling": "gambling",
    "games": "gaming",
    "social_networks": "social_media",
    "chat": "messaging",
    "dating": "dating",
    "vpn": "filter_bypass",
    "redirector": "filter_bypass",
    "strict_redirector": "filter_bypass",
    "doh": "filter_bypass",
    "residential-proxies": "filter_bypass",
    "remote-control": "filter_bypass",
    "warez": "piracy",
    "filehosting": "file_sharing",
    "audio-video": "video_streaming",
    "malware": "malware",
    "phishing": "malware",
    "cryptojacking": "malware",
    "hacking": "malware",
    "stalkerware": "malware",
    "shopping": "shopping",
    "sect": "extremism",
    "liste_blanche": ALLOW,
    "sexual_education": ALLOW,
}


def is_category(value: str) -> bool:
    return value in CATEGORIES
