//! Values linode-ai generates: the root password, API keys, passwords and
//! signing secrets. Never printed, never stored outside the project's `.env`.

use anyhow::{bail, Result};

use crate::blueprint::template::Generate;

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot get random bytes: {e}"))?;
    Ok(bytes)
}

/// Strong random root password (50 random bytes, base64: 68 chars).
pub fn root_password() -> Result<String> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.encode(random_bytes::<50>()?))
}

/// A value of the given kind.
pub fn generate(kind: Generate) -> Result<String> {
    use base64::Engine;
    Ok(match kind {
        Generate::Key => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
        }
        Generate::Hex => random_bytes::<32>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        Generate::Password => {
            const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
            // Rejection sampling keeps every character equally likely.
            let mut out = String::new();
            while out.len() < 24 {
                for b in random_bytes::<64>()? {
                    if (b as usize) < 256 - 256 % ALPHABET.len() && out.len() < 24 {
                        out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
                    }
                }
            }
            out
        }
    })
}

/// Checks a key the user chose: it goes into the proxy's exact header match,
/// so it must be long enough and plain.
pub fn check_key(name: &str, value: &str) -> Result<()> {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._~+/=-".contains(c));
    if value.len() < 16 || value.len() > 512 || !plain {
        bail!(
            "{name} must be 16-512 characters of letters, digits and . _ ~ + / = - (it is sent as \"Authorization: Bearer <key>\"); \
             empty it in .env and linode-ai generates a strong one"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_strong_and_plain() {
        let k = generate(Generate::Key).unwrap();
        assert_eq!(k.len(), 43);
        check_key("K", &k).unwrap();
        assert_ne!(k, generate(Generate::Key).unwrap());
        let h = generate(Generate::Hex).unwrap();
        assert!(h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()));
        let p = generate(Generate::Password).unwrap();
        assert!(p.len() == 24 && p.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(root_password().unwrap().len(), 68);
    }

    #[test]
    fn chosen_keys_are_checked() {
        assert!(check_key("K", "short").is_err());
        assert!(check_key("K", "has a space in it ok").is_err());
        assert!(check_key("K", "*wildcard-matches-everything").is_err());
        assert!(check_key("K", "quote\"breaks-the-config").is_err());
        check_key("K", "sk-0123456789abcdef").unwrap();
    }
}
