"""A real OpenLDAP server (Debian's slapd) on loopback for the directory sign-in tests: `Directory.create(tmp)` writes
a config and a generated directory (people, groups, one with a Chinese name, one disabled), loads it with slapadd
and serves it on a free port (plain and StartTLS) and on another (LDAPS), with a certificate from a test CA made
here (`ca_file`); `stop()` and `start()` take it down and bring it back (an outage)."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.loopback import free_port

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SUFFIX = "dc=hospital,dc=test"
SERVICE_DN = f"cn=balint-reader,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "reader-secret"
LEADERS_DN = f"cn=balint-leaders,ou=groups,{SUFFIX}"
ORGANISATION = "北京禾苗儿童医院"

# login -> (display name, e-mail, staff number, department, password, disabled)
PEOPLE = {
    "li.na": ("李娜", "li.na@hospital.test", "H1001", "儿科重症监护室", "pw-li-na", False),
    "wang.wei": ("Wang Wei", "wang.wei@hospital.test", "H1002", "Emergency", "pw-wang-wei", False),
    "zhao.left": ("Zhao Left", "zhao.left@hospital.test", "H1003", "Outpatients", "pw-zhao", True),
}


def available() -> bool:
    """Whether slapd and slapadd are installed (apt-get install slapd ldap-utils)."""
    return Path(SLAPD).exists() and Path(SLAPADD).exists()


def _value(name: str, value: str) -> str:
    """One LDIF line; values outside ASCII are written base64 (RFC 2849)."""
    if value.isascii():
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def directory_ldif() -> str:
    """The generated directory: the organisation, a service account, people and a leaders group."""
    entries = [
        [f"dn: {SUFFIX}", "objectClass: dcObject", "objectClass: organization", "dc: hospital",
         _value("o", ORGANISATION)],
        [f"dn: ou=people,{SUFFIX}", "objectClass: organizationalUnit", "ou: people"],
        [f"dn: ou=groups,{SUFFIX}", "objectClass: organizationalUnit", "ou: groups"],
        [f"dn: ou=services,{SUFFIX}", "objectClass: organizationalUnit", "ou: services"],
        [f"dn: {SERVICE_DN}", "objectClass: organizationalRole", "objectClass: simpleSecurityObject",
         "cn: balint-reader", f"userPassword: {SERVICE_PASSWORD}"],
    ]
    for login, (name, email, number, department, password, disabled) in PEOPLE.items():
        entry = [f"dn: uid={login},ou=people,{SUFFIX}", "objectClass: inetOrgPerson", f"uid: {login}",
                 _value("cn", name), _value("sn", name.split()[-1]), _value("displayName", name), f"mail: {email}",
                 f"employeeNumber: {number}", _value("departmentNumber", department), _value("o", ORGANISATION),
                 f"userPassword: {password}"]
        if disabled:
            entry.append("employeeType: disabled")
        entries.append(entry)
    entries.append([f"dn: {LEADERS_DN}", "objectClass: groupOfNames", "cn: balint-leaders",
                    f"member: uid=wang.wei,ou=people,{SUFFIX}"])
    return "\n\n".join("\n".join(e) for e in entries) + "\n"


def write_certificates(folder: Path) -> None:
    """A test CA (ca.pem) and a certificate for 127.0.0.1 signed by it (server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Balint test CA")).issuer_name(name("Balint test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                                          serialization.NoEncryption()))


def _config(folder: Path) -> str:
    return f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {folder}/slapd.pid
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "cn=admin,{SUFFIX}"
directory {folder}/db
access to attrs=userPassword by anonymous auth by self auth by * none
access to * by dn.exact="{SERVICE_DN}" read by self read by users read by * none
"""


class Directory:
    """slapd serving the generated directory on 127.0.0.1:`port`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> str:
        return str(self.folder / "ca.pem")

    @classmethod
    def create(cls, folder: Path) -> Directory:
        """Write the config and load the directory (slapadd), then start serving."""
        directory = cls(folder)
        (folder / "db").mkdir(parents=True)
        write_certificates(folder)
        (folder / "slapd.conf").write_text(_config(folder))
        (folder / "people.ldif").write_text(directory_ldif(), encoding="utf-8")
        subprocess.run([SLAPADD, "-f", str(folder / "slapd.conf"), "-l", str(folder / "people.ldif")],
                       check=True, capture_output=True, timeout=60)
        directory.start()
        return directory

    def start(self) -> None:
        # -d 0: stay in the foreground (so the process is ours to stop), logging nothing.
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(self.folder / "slapd.conf"), "-h", f"{self.url}/ {self.ldaps_url}/", "-d", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                for port in (self.port, self.tls_port):
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        pass
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"slapd exited with {self.process.returncode}") from None
                time.sleep(0.05)
        raise RuntimeError("slapd did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def settings(directory: Directory, **extra) -> dict:
    """App settings for search-then-bind with the service account against `directory` (disabled people left out
    by the user filter, the leaders group mapped to the leader role)."""
    return {
        "LDAP_URL": directory.url, "LDAP_SERVICE_DN": SERVICE_DN, "LDAP_SERVICE_PASSWORD": SERVICE_PASSWORD,
        "LDAP_BIND_TEMPLATE": None, "LDAP_SEARCH_BASE": f"ou=people,{SUFFIX}",
        "LDAP_USER_FILTER": "(&(objectClass=inetOrgPerson)(uid={username})(!(employeeType=disabled)))",
        "LDAP_GROUP_SEARCH_BASE": f"ou=groups,{SUFFIX}", "LDAP_GROUP_ROLES": f"{LEADERS_DN}=leader",
        "LDAP_TIMEOUT": 3, **extra,
    }
