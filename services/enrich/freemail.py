"""Free-mail domains: a person at gmail.com is not the account gmail.com. Never match accounts by these."""

FREE_MAIL_DOMAINS = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.co.uk ymail.com hotmail.com hotmail.co.uk outlook.com live.com msn.com
    aol.com icloud.com me.com mac.com proton.me protonmail.com gmx.com gmx.de gmx.net web.de mail.com zoho.com
    yandex.com yandex.ru fastmail.com hey.com qq.com 163.com 126.com naver.com comcast.net verizon.net att.net
    orange.fr free.fr laposte.net libero.it t-online.de
    """.split()
)


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".")
    return domain or None


def is_free_mail(domain: str) -> bool:
    return domain.lower() in FREE_MAIL_DOMAINS
