"""Large freed blocks go back to the system (glibc): the mallopt call is accepted here."""

import threading

from app.memory import set_mmap_threshold


def test_glibc_accepts_a_fixed_mmap_threshold_and_nothing_is_asked_for_zero():
    assert set_mmap_threshold(1024 * 1024) is True
    assert set_mmap_threshold(0) is False


def test_a_password_waits_while_another_is_being_hashed(app):
    from app.accounts import services

    done = threading.Event()

    def hash_one():
        with app.app_context():
            services._hasher().hash("correct horse battery")
        done.set()

    services._HASHING.acquire()  # as if another thread were hashing
    try:
        thread = threading.Thread(target=hash_one)
        thread.start()
        assert not done.wait(0.5)
    finally:
        services._HASHING.release()
    assert done.wait(10)
    thread.join()


def _imported_by_a_starting_worker(tmp_path, modules: tuple[str, ...]) -> str:
    """Which of `modules` a fresh interpreter holds after create_app('production'), with LDAP, OpenID Connect and
    the chat platforms off (printed as a sorted list)."""
    import os
    import subprocess
    import sys

    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("LDAP_", "OIDC_", "WECOM_", "DINGTALK_", "CHAT_"))}
    env.update({"SECRET_KEY": "s" * 40, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
                "BASE_URL": "https://balint.example"})
    code = ("import sys; from app import create_app; create_app('production'); "
            f"print(sorted(m for m in {modules!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_a_worker_starts_without_the_heavy_statistics_modules(tmp_path):
    """scipy.stats (and pandas) would put ~50 MB into every worker: the app computes with scipy.special only."""
    assert _imported_by_a_starting_worker(tmp_path, ("scipy.stats", "pandas")) == "[]"


def test_a_worker_starts_without_the_clients_of_sign_in_providers_and_chat_platforms(tmp_path):
    """ldap3, requests/Authlib/joserfc (OpenID Connect) and httpx (WeCom, DingTalk) would put ~15 MB into every
    worker: they are imported when LDAP, OpenID Connect or a chat platform is first used."""
    assert _imported_by_a_starting_worker(tmp_path, ("ldap3", "requests", "authlib", "joserfc", "httpx")) == "[]"
