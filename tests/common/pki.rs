//! Certificates made at test time: a CA and a server certificate it signed.

use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A CA, and a server certificate it signed for 127.0.0.1 and localhost.
pub struct Pki {
    pub ca: String,
    /// The server's chain, leaf first.
    pub chain: String,
    pub key: String,
}

pub fn make_pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "quiver test CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();

    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "quiver");
    let leaf = params.signed_by(&key, &*ca).unwrap();
    Pki {
        ca: ca.pem(),
        chain: format!("{}{}", leaf.pem(), ca.pem()),
        key: key.serialize_pem(),
    }
}

/// Writes the server's files into `repo/certs/`.
pub fn write_certs(repo: &Path, pki: &Pki) -> (PathBuf, PathBuf) {
    let dir = repo.join("certs");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert, &pki.chain).unwrap();
    std::fs::write(&key, &pki.key).unwrap();
    (cert, key)
}

pub fn append_config(repo: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(repo.join("quiver.yaml"))
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}
