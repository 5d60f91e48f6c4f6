"""Built-in intent examples (product-feedback flavoured) and how config.intents changes them.

`intents.yaml` (Config.intents) maps an intent label to example phrasings:
- a new label adds an intent;
- a built-in label gets the given examples added to its built-in ones;
- a label with an empty list removes that intent.
"""

from __future__ import annotations

from collections.abc import Mapping

BUILTIN_INTENTS: dict[str, list[str]] = {
    "question": [
        "How do I export my data to CSV?",
        "Is there a way to add more users to our workspace?",
        "Where can I find the API key?",
        "Can I change the billing email on our account?",
        "What is the difference between the Pro and Business plans?",
        "Does the integration support single sign-on?",
        "How do I reset my password?",
        "Do you have documentation for the webhooks?",
        "Which browsers are supported?",
        "How can I download last year's invoices?",
        "Is it possible to schedule reports weekly?",
        "Can you tell me how the permissions work for guests?",
        "What are the rate limits on the API?",
        "How long do you keep our data after we cancel?",
    ],
    "bug": [
        "The dashboard shows a blank page after I log in",
        "Export to CSV fails with an error 500",
        "The app crashes every time I upload a file",
        "I was charged twice this month",
        "Search returns no results even though the records exist",
        "The mobile app freezes on the settings screen",
        "Notifications stopped arriving since yesterday",
        "Saving the form throws an unexpected error",
        "The sync has been stuck for hours and data is missing",
        "Login with Google is broken",
        "Numbers in the report don't match the raw data",
        "The page keeps loading forever and never finishes",
        "Clicking the button does nothing",
        "It says permission denied although I am an admin",
    ],
    "feature_request": [
        "It would be great if we could export reports to PDF",
        "Please add dark mode",
        "Can you add support for Microsoft Teams notifications?",
        "We need an API endpoint to bulk update records",
        "I wish I could filter the inbox by customer",
        "Feature request: custom fields on tickets",
        "Would love to see a Slack integration",
        "Could you add two-factor authentication with hardware keys?",
        "We would like role-based permissions for each project",
        "Please let us schedule exports automatically",
        "Any plans to support SAML single sign-on?",
        "An undo button would save us a lot of time",
        "Allow us to set a default currency per workspace",
    ],
    "praise": [
        "Love the new dashboard, great job!",
        "Thanks, the support team was amazing",
        "This feature saved us hours every week",
        "The new release is fantastic",
        "Really happy with the product so far",
        "Great update, the app feels much faster",
        "Your onboarding was the smoothest we've had",
        "Kudos to the team, the integration works perfectly",
        "We love using this every day",
        "Best tool we've bought this year",
        "Thank you for fixing that so quickly!",
        "Five stars, highly recommend",
    ],
    "churn_risk": [
        "We are thinking about cancelling our subscription",
        "If this isn't fixed we will move to a competitor",
        "We're evaluating other vendors at renewal",
        "This is too expensive for us, we may not renew",
        "Please cancel our account at the end of the month",
        "Our team has stopped using the product",
        "We're switching to another tool next quarter",
        "Honestly we are very disappointed and considering leaving",
        "How do I close my account and delete everything?",
        "Management asked us to cut this tool from the budget",
        "Downgrade us to the free plan, we don't get the value",
        "Another outage like this and we're out",
    ],
    "other": [
        "Hello",
        "ok",
        "Test message please ignore",
        "Out of office until Monday",
        "Meeting notes from the quarterly review",
        "Forwarding this to the right person",
        "Unsubscribe",
        "Page viewed",
        "User signed up",
        "Sent from my iPhone",
        "Following up on my previous email",
        "Please see attached",
    ],
}


def merged_intents(overrides: Mapping[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Built-in intents with the configuration's additions applied (see module docstring)."""
    merged = {label: list(examples) for label, examples in BUILTIN_INTENTS.items()}
    for label, examples in (overrides or {}).items():
        if not examples:
            merged.pop(label, None)
            continue
        merged.setdefault(label, [])
        merged[label].extend(e for e in examples if e not in merged[label])
    return merged
