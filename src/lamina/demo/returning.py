"""The demo's returning customers: short support chats spread over the last day, from
a dozen people, some of them back for a second or third time, so that the Users page
and the Dashboard of ``make run`` have more than the seven stories to show. They are all
over (the newest an hour old); no score, comment or outcome is given on them.
"""

from __future__ import annotations

# (user id, hours ago it started, the turns: the customer's message and the answer)
RETURNING: list[tuple[str, float, list[tuple[str, str]]]] = [
    (
        "u-1842",
        21.5,
        [("Is order 991 shipped yet?", "Order 991 left our warehouse this morning.")],
    ),
    (
        "u-2210",
        20.0,
        [
            ("Can I return shoes I wore once?", "Yes, within 30 days if they look unworn."),
            ("How do I start the return?", "Open Orders, pick the shoes and press Return."),
        ],
    ),
    ("u-508", 18.25, [("Do you have the rain jacket in XS?", "XS is back in stock on Friday.")]),
    (
        "u-77",
        16.0,
        [
            ("My parcel to Oslo is late.", "It is held at customs; expect it within 2 days."),
            ("Do I pay the customs fee?", "No, we pay duties on every order to Norway."),
        ],
    ),
    ("u-9931", 14.5, [("Do you sell gift cards?", "Yes, from €10 to €200, sent by email.")]),
    (
        "u-2210",
        12.0,
        [("The return label does not print.", "I've emailed you the label as a PDF instead.")],
    ),
    (
        "u-3051",
        9.0,
        [("Can I add socks to order 1204?", "Order 1204 is packed; I can't add to it.")],
    ),
    ("u-1203", 7.5, [("What are your opening hours?", "Support answers 8:00–20:00 CET daily.")]),
    (
        "u-508",
        6.0,
        [
            ("Is the XS rain jacket in yet?", "Yes, it arrived today."),
            ("Reserve one for me?", "We can't reserve items, but it ships the day you order."),
        ],
    ),
    ("u-6612", 4.5, [("Do you ship to Iceland?", "Not yet; we ship to the EU and Norway.")]),
    ("u-1842", 3.5, [("Has my refund come through?", "Yes, it was paid back on Tuesday.")]),
    ("u-2210", 2.25, [("Refund for the shoes?", "Refunded today; 3–5 days to reach your card.")]),
    (
        "u-7",
        1.25,
        [("Can I change the address of my order?", "Done: it now ships to your new address.")],
    ),
]
