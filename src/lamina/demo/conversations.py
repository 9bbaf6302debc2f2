"""What the demo's customers say: the support chatbot's three conversations (a
refund, shipping to Norway, a discount code) and the password reset whose second turn
failed (lamina.demo.spans makes their spans; lamina.demo.returning holds the short
chats of returning customers).
"""

from __future__ import annotations

# (user id, the turns: the customer's message and the answer)
CONVERSATIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "u-1842",
        [
            (
                "I was charged twice for order 991.",
                "I can see two charges for order 991. I've started a refund for the duplicate.",
            ),
            ("When will the refund arrive?", "Refunds take 3–5 business days to reach your card."),
            (
                "Can I get an email confirmation?",
                "Done — a confirmation is on its way to the address on your account.",
            ),
            ("Thanks!", "You're welcome. Anything else I can help with?"),
        ],
    ),
    (
        "u-77",
        [
            ("Do you ship to Norway?", "Yes, we ship to Norway. Delivery takes 4–7 days."),
            (
                "How much is shipping for a 2 kg parcel?",
                "Shipping a 2 kg parcel to Norway costs €14.90.",
            ),
        ],
    ),
    (
        "u-3051",
        [
            (
                "My discount code SUMMER24 doesn't work.",
                "SUMMER24 expired on 31 August. I can offer WELCOME10 for 10% off instead.",
            ),
            ("ok apply it to my cart", "WELCOME10 is applied: your cart total is now €53.10."),
            (
                "and change the size of the jacket to L",
                "Your jacket is now size L. The total is unchanged.",
            ),
            (
                "checkout please",
                "Your order 1204 is placed. You'll get a confirmation email shortly.",
            ),
            ("where is my order?", "Order 1204 is packed and leaves our warehouse today."),
        ],
    ),
]
# The password reset: its second turn failed (lamina.demo.spans.PASSWORD_FAILURE), the
# customer asked again a few minutes later
PASSWORD: tuple[str, list[tuple[str, str]]] = (
    "u-4470",
    [
        ("I forgot my password.", "I've sent a reset link to your email address."),
        (
            "The link has expired.",
            "Sorry, I couldn't make a new link just now. Please try again in a few minutes.",
        ),
        ("Can you try again now?", "Here is a new one; it works for 24 hours."),
        ("It works now, thanks.", "Glad to help!"),
    ],
)
