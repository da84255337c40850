//! The official AWS SDK for Rust (`aws-sdk-kms` from crates.io, unchanged)
//! against `ferrohsm serve` started by the test: what an application written
//! for AWS KMS does, pointed at FerroHSM with an endpoint URL. Errors are
//! checked as the SDK's typed errors, so the wire names must be AWS's.

mod common;
#[path = "common/sdk.rs"]
mod sdk;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
};
use aws_sdk_kms::Client;

use common::server::{home, Home, Server};
use sdk::key_uuid;

/// A store, an admin principal and a server; the client signs as the admin.
fn start() -> (Home, Server, Client) {
    let h = home();
    let alice = h.principal("alice", true);
    let s = h.serve(&[]);
    assert!(s.url.starts_with("http://127.0.0.1:"), "{}", s.url);
    let c = sdk::client(&s.url, &alice, None);
    (h, s, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symmetric_keys_aliases_and_envelopes() {
    let (_h, _s, kms) = start();

    // CreateKey: a symmetric key by default, with AWS's ARN and metadata.
    let made = kms.create_key().description("records").send().await.unwrap();
    let meta = made.key_metadata().unwrap();
    let arn = meta.arn().unwrap().to_string();
    let id = key_uuid(&arn).to_string();
    assert_eq!(meta.key_id(), id);
    assert_eq!(meta.aws_account_id(), Some("111122223333"));
    assert_eq!(meta.description(), Some("records"));
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert!(meta.enabled());
    assert_eq!(meta.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(meta.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert!(meta.creation_date().is_some());

    // CreateAlias, then DescribeKey by id, ARN, alias name and alias ARN.
    kms.create_alias().alias_name("alias/records").target_key_id(&id).send().await.unwrap();
    let alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/records";
    for name in [id.as_str(), arn.as_str(), "alias/records", alias_arn] {
        let d = kms.describe_key().key_id(name).send().await.unwrap();
        let m = d.key_metadata().unwrap();
        assert_eq!((m.key_id(), m.arn()), (id.as_str(), Some(arn.as_str())), "{name}");
    }
    let aliases = kms.list_aliases().key_id(&id).send().await.unwrap();
    let names: Vec<_> = aliases.aliases().iter().filter_map(|a| a.alias_name()).collect();
    assert_eq!(names, ["alias/records"]);
    assert_eq!(aliases.aliases()[0].alias_arn(), Some(alias_arn));
    assert_eq!(aliases.aliases()[0].target_key_id(), Some(id.as_str()));
    let again = kms.create_alias().alias_name("alias/records").target_key_id(&id).send().await;
    assert!(again.unwrap_err().into_service_error().is_already_exists_exception());

    // Encrypt/Decrypt with an encryption context, through the alias.
    let secret = b"alice's secret".to_vec();
    let enc = kms
        .encrypt()
        .key_id("alias/records")
        .plaintext(Blob::new(secret.clone()))
        .encryption_context("user", "alice")
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(enc.key_id(), Some(arn.as_str()));
    let ct = enc.ciphertext_blob().unwrap().clone();
    assert!(ct.as_ref().len() > secret.len());
    // Decrypt without KeyId: the ciphertext names its key.
    let dec = kms
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("purpose", "test")
        .encryption_context("user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), secret.as_slice());
    assert_eq!(dec.key_id(), Some(arn.as_str()));

    // A wrong or missing context: InvalidCiphertextException, typed.
    for ctx in [Some(("user", "bob")), None] {
        let mut d = kms.decrypt().ciphertext_blob(ct.clone());
        if let Some((k, v)) = ctx {
            d = d.encryption_context(k, v).encryption_context("purpose", "test");
        }
        let e = d.send().await.unwrap_err().into_service_error();
        assert!(e.is_invalid_ciphertext_exception(), "{ctx:?}: {e:?}");
    }

    // A second key; Decrypt naming the wrong key: IncorrectKeyException.
    let other = kms.create_key().send().await.unwrap();
    let other_arn = other.key_metadata().unwrap().arn().unwrap().to_string();
    let other_id = key_uuid(&other_arn).to_string();
    assert_ne!(other_id, id);
    let e = kms
        .decrypt()
        .key_id(&other_id)
        .ciphertext_blob(ct.clone())
        .encryption_context("user", "alice")
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_incorrect_key_exception(), "{e:?}");

    // ReEncrypt to the other key and another context.
    let re = kms
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .source_encryption_context("user", "alice")
        .source_encryption_context("purpose", "test")
        .destination_key_id(&other_id)
        .destination_encryption_context("user", "carol")
        .send()
        .await
        .unwrap();
    assert_eq!(re.source_key_id(), Some(arn.as_str()));
    assert_eq!(re.key_id(), Some(other_arn.as_str()));
    let moved = re.ciphertext_blob().unwrap().clone();
    let dec = kms.decrypt().ciphertext_blob(moved.clone()).encryption_context("user", "carol").send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), secret.as_slice());
    assert_eq!(dec.key_id(), Some(other_arn.as_str()));
    let e = kms
        .decrypt()
        .key_id(&id)
        .ciphertext_blob(moved)
        .encryption_context("user", "carol")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_incorrect_key_exception(), "{e:?}");

    // GenerateDataKey: a 256-bit data key and its copy under the key.
    let dk = kms
        .generate_data_key()
        .key_id(alias_arn)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("file", "a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(dk.key_id(), Some(arn.as_str()));
    let plain = dk.plaintext().unwrap().as_ref().to_vec();
    assert_eq!(plain.len(), 32);
    assert_ne!(plain, [0u8; 32]);
    let dec = kms
        .decrypt()
        .ciphertext_blob(dk.ciphertext_blob().unwrap().clone())
        .encryption_context("file", "a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), plain.as_slice());
    let dk16 = kms.generate_data_key().key_id(&id).number_of_bytes(16).send().await.unwrap();
    assert_eq!(dk16.plaintext().unwrap().as_ref().len(), 16);
    let wo = kms.generate_data_key_without_plaintext().key_id(&id).key_spec(DataKeySpec::Aes128).send().await.unwrap();
    let dec = kms.decrypt().ciphertext_blob(wo.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref().len(), 16);

    // ListKeys, also one page at a time through the SDK's paginator.
    let all = kms.list_keys().send().await.unwrap();
    let mut listed: Vec<(String, String)> =
        all.keys().iter().map(|k| (k.key_id().unwrap().to_string(), k.key_arn().unwrap().to_string())).collect();
    listed.sort();
    let mut want = vec![(id.clone(), arn.clone()), (other_id.clone(), other_arn.clone())];
    want.sort();
    assert_eq!(listed, want);
    assert!(!all.truncated());
    let first = kms.list_keys().limit(1).send().await.unwrap();
    assert_eq!(first.keys().len(), 1);
    assert!(first.truncated());
    assert!(first.next_marker().is_some());
    let paged: Vec<_> =
        kms.list_keys().limit(1).into_paginator().items().send().collect::<Result<Vec<_>, _>>().await.unwrap();
    let mut paged: Vec<(String, String)> =
        paged.iter().map(|k| (k.key_id().unwrap().to_string(), k.key_arn().unwrap().to_string())).collect();
    paged.sort();
    assert_eq!(paged, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_states_are_typed_errors() {
    let (_h, _s, kms) = start();
    let made = kms.create_key().send().await.unwrap();
    let id = made.key_metadata().unwrap().key_id().to_string();
    let ct = kms.encrypt().key_id(&id).plaintext(Blob::new(*b"kept")).send().await.unwrap();
    let ct = ct.ciphertext_blob().unwrap().clone();

    // Unknown key: NotFoundException.
    let e = kms.describe_key().key_id("alias/nope").send().await.unwrap_err().into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = kms
        .encrypt()
        .key_id("00000000-0000-4000-8000-000000000000")
        .plaintext(Blob::new(*b"x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");

    // Disabled: DisabledException; enabled again, it works.
    kms.disable_key().key_id(&id).send().await.unwrap();
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new(*b"x")).send().await.unwrap_err().into_service_error();
    assert!(e.is_disabled_exception(), "{e:?}");
    kms.enable_key().key_id(&id).send().await.unwrap();

    // ScheduleKeyDeletion, then Encrypt and Decrypt: KMSInvalidStateException.
    let sched = kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    assert_eq!(sched.key_id().map(key_uuid), Some(id.as_str()));
    assert_eq!(sched.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(sched.pending_window_in_days(), Some(7));
    let when = sched.deletion_date().unwrap().secs();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((when - now - 7 * 86400).abs() < 3600, "deletion date {when}, now {now}");
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new(*b"x")).send().await.unwrap_err().into_service_error();
    assert!(e.is_kms_invalid_state_exception(), "{e:?}");
    assert!(matches!(e, aws_sdk_kms::operation::encrypt::EncryptError::KmsInvalidStateException(_)));
    let e = kms.decrypt().ciphertext_blob(ct.clone()).send().await.unwrap_err().into_service_error();
    assert!(e.is_kms_invalid_state_exception(), "{e:?}");
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    let m = d.key_metadata().unwrap();
    assert_eq!(m.key_state(), Some(&KeyState::PendingDeletion));
    assert!(!m.enabled());
    assert_eq!(m.deletion_date().map(|d| d.secs()), Some(when));

    // CancelKeyDeletion leaves it disabled, as in AWS; enabled, the old
    // ciphertext decrypts again.
    kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().key_state(), Some(&KeyState::Disabled));
    kms.enable_key().key_id(&id).send().await.unwrap();
    let dec = kms.decrypt().ciphertext_blob(ct).send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"kept");

    // Out of AWS's limits: ValidationException... as the SDK knows it.
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new(vec![0u8; 4097])).send().await.unwrap_err();
    let code = aws_sdk_kms::error::ProvideErrorMetadata::code(&e).map(str::to_string);
    assert_eq!(code.as_deref(), Some("ValidationException"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_verify_and_mac() {
    let (_h, _s, kms) = start();

    // ECC_NIST_P256 signing key.
    let made =
        kms.create_key().key_spec(KeySpec::EccNistP256).key_usage(KeyUsageType::SignVerify).send().await.unwrap();
    let meta = made.key_metadata().unwrap();
    let arn = meta.arn().unwrap().to_string();
    let id = key_uuid(&arn).to_string();
    assert_eq!(meta.key_spec(), Some(&KeySpec::EccNistP256));
    assert_eq!(meta.key_usage(), Some(&KeyUsageType::SignVerify));
    assert_eq!(meta.signing_algorithms(), [SigningAlgorithmSpec::EcdsaSha256]);

    let msg = b"the message".to_vec();
    let sig = kms
        .sign()
        .key_id(&id)
        .message(Blob::new(msg.clone()))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    assert_eq!(sig.key_id(), Some(arn.as_str()));
    assert_eq!(sig.signing_algorithm(), Some(&SigningAlgorithmSpec::EcdsaSha256));
    let signature = sig.signature().unwrap().as_ref().to_vec();
    let verify = |m: Vec<u8>, s: Vec<u8>, t: MessageType| {
        kms.verify()
            .key_id(&id)
            .message(Blob::new(m))
            .message_type(t)
            .signature(Blob::new(s))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
    };
    let v = verify(msg.clone(), signature.clone(), MessageType::Raw).await.unwrap();
    assert!(v.signature_valid());
    assert_eq!(v.key_id(), Some(arn.as_str()));
    // The same message as its SHA-256 digest.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &msg).as_ref().to_vec();
    assert!(verify(digest.clone(), signature.clone(), MessageType::Digest).await.unwrap().signature_valid());
    let dsig = kms
        .sign()
        .key_id(&id)
        .message(Blob::new(digest))
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    assert!(verify(msg.clone(), dsig.signature().unwrap().as_ref().to_vec(), MessageType::Raw)
        .await
        .unwrap()
        .signature_valid());
    // Another message: KMSInvalidSignatureException, typed.
    let e = verify(b"another message".to_vec(), signature.clone(), MessageType::Raw)
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_kms_invalid_signature_exception(), "{e:?}");

    // The public key verifies the signature outside FerroHSM (DER ECDSA).
    let pk = kms.get_public_key().key_id("alias/none-such").send().await.unwrap_err().into_service_error();
    assert!(pk.is_not_found_exception(), "{pk:?}");
    let pk = kms.get_public_key().key_id(&id).send().await.unwrap();
    assert_eq!(pk.key_spec(), Some(&KeySpec::EccNistP256));
    let spki = pk.public_key().unwrap().as_ref();
    // SubjectPublicKeyInfo for P-256: the uncompressed point is its last 65 bytes.
    assert_eq!(spki.len(), 91);
    let point = &spki[spki.len() - 65..];
    assert_eq!(point[0], 4);
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1, point);
    key.verify(&msg, &signature).expect("the signature verifies with the public key");

    // A signing key cannot encrypt: InvalidKeyUsageException.
    let e = kms.encrypt().key_id(&id).plaintext(Blob::new(*b"x")).send().await.unwrap_err().into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");

    // HMAC_256: GenerateMac / VerifyMac.
    let made =
        kms.create_key().key_spec(KeySpec::Hmac256).key_usage(KeyUsageType::GenerateVerifyMac).send().await.unwrap();
    let hm = made.key_metadata().unwrap();
    assert_eq!(hm.mac_algorithms(), [MacAlgorithmSpec::HmacSha256]);
    let hid = hm.key_id().to_string();
    let mac = kms
        .generate_mac()
        .key_id(&hid)
        .message(Blob::new(msg.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert_eq!(mac.key_id(), hm.arn());
    assert_eq!(mac.mac_algorithm(), Some(&MacAlgorithmSpec::HmacSha256));
    let tag = mac.mac().unwrap().as_ref().to_vec();
    assert_eq!(tag.len(), 32);
    let again = kms
        .generate_mac()
        .key_id(&hid)
        .message(Blob::new(msg.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert_eq!(again.mac().unwrap().as_ref(), tag.as_slice(), "HMAC is deterministic");
    let ok = kms
        .verify_mac()
        .key_id(&hid)
        .message(Blob::new(msg.clone()))
        .mac(Blob::new(tag.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert!(ok.mac_valid());
    let mut bad = tag.clone();
    bad[0] ^= 1;
    let e = kms
        .verify_mac()
        .key_id(&hid)
        .message(Blob::new(msg.clone()))
        .mac(Blob::new(bad))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_kms_invalid_mac_exception(), "{e:?}");
    // The wrong algorithm for the key: InvalidKeyUsageException.
    let e = kms
        .generate_mac()
        .key_id(&hid)
        .message(Blob::new(msg))
        .mac_algorithm(MacAlgorithmSpec::HmacSha512)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_key_usage_exception(), "{e:?}");
}
