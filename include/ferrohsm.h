/*
 * FerroHSM vendor definitions. Build against a standard PKCS#11 header
 * (for example p11-kit's <p11-kit/pkcs11.h>) and include this after it.
 *
 * The KMS calls live in the vendor interface "FerroHSM KMS" 1.0:
 *
 *   CK_INTERFACE_PTR iface;
 *   C_GetInterface((CK_UTF8CHAR_PTR)FHSM_KMS_INTERFACE_NAME, NULL, &iface, 0);
 *   CK_FHSM_KMS_FUNCTION_LIST_PTR kms = iface->pFunctionList;
 *   kms->FHSM_Encrypt(hSession, ...);
 *
 * Every call takes a session logged in as the user (CKU_USER), except
 * FHSM_PurgeKey (the SO) and the audit calls (any session). Key ids are the
 * key's CKA_UNIQUE_ID (32 hex characters) or an alias "alias/NAME", passed
 * as bytes and a length. Byte outputs follow the PKCS#11 convention: a NULL
 * buffer returns the length in *pulLen; a short one returns
 * CKR_BUFFER_TOO_SMALL with the length.
 */
#ifndef FERROHSM_H
#define FERROHSM_H

/* Library identity, as C_GetInfo reports it. */
#define FERROHSM_MANUFACTURER_ID "FerroHSM project"

/* Environment variable naming the TOML configuration file. */
#define FERROHSM_CONF_ENV "FERROHSM_CONF"

#define FHSM_BASE 0x8F480000UL

/* Attributes of KMS master keys (CKO_SECRET_KEY, CKK_AES, 32 bytes). */
#define CKA_FHSM_KMS             (FHSM_BASE + 1)  /* CK_BBOOL: a KMS master key */
#define CKA_FHSM_KEY_STATE       (FHSM_BASE + 2)  /* CK_ULONG: FHSM_STATE_* */
#define CKA_FHSM_KEY_VERSION     (FHSM_BASE + 3)  /* CK_ULONG: newest version */
#define CKA_FHSM_VERSIONS        (FHSM_BASE + 4)  /* every version (secret, never readable) */
#define CKA_FHSM_CREATION_TIME   (FHSM_BASE + 5)  /* CK_ULONG: Unix seconds */
#define CKA_FHSM_ROTATION_PERIOD (FHSM_BASE + 6)  /* CK_ULONG: days, 0 = off, else 90..2560 */
#define CKA_FHSM_LAST_ROTATION   (FHSM_BASE + 7)  /* CK_ULONG: Unix seconds */
#define CKA_FHSM_DELETION_TIME   (FHSM_BASE + 8)  /* CK_ULONG: Unix seconds, 0 if not pending */
#define CKA_FHSM_DESCRIPTION     (FHSM_BASE + 9)  /* UTF-8 text */
#define CKA_FHSM_NEXT_ROTATION   (FHSM_BASE + 10) /* CK_ULONG: Unix seconds, 0 if off */
#define CKA_FHSM_KEY_POLICY      (FHSM_BASE + 11) /* bytes: JSON key policy (KMS API) */
#define CKA_FHSM_TAGS            (FHSM_BASE + 12) /* bytes: JSON tags (KMS API) */
#define CKA_FHSM_KEY_SPEC        (FHSM_BASE + 13) /* text: RSA_2048, ECC_NIST_P256, HMAC_256...; absent: SYMMETRIC_DEFAULT */
#define CKA_FHSM_KEY_USAGE       (FHSM_BASE + 14) /* text: ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC */
#define CKA_FHSM_ORIGIN          (FHSM_BASE + 16) /* text: EXTERNAL for imported material */
#define CKA_FHSM_MATERIAL_HASH   (FHSM_BASE + 17) /* SHA-256 of imported material */
#define CKA_FHSM_PUBLIC_KEY      (FHSM_BASE + 15) /* DER SubjectPublicKeyInfo of an asymmetric KMS key */

/* Key type of an asymmetric KMS key (CKO_SECRET_KEY; CKA_VALUE a PKCS#8 private key, never readable). */
#define CKK_FHSM_KMS_ASYMMETRIC  (FHSM_BASE + 1)

#define FHSM_STATE_ENABLED          0UL
#define FHSM_STATE_DISABLED         1UL
#define FHSM_STATE_PENDING_DELETION 2UL

/* C_WrapKey / C_UnwrapKey under a KMS master key, producing the same
 * self-describing blob as FHSM_GenerateDataKey. Parameter: NULL (no
 * context) or CK_FHSM_KMS_WRAP_PARAMS. */
#define CKM_FHSM_KMS_WRAP (FHSM_BASE + 1)

#define CKR_FHSM_KEY_DISABLED         (FHSM_BASE + 1)
#define CKR_FHSM_KEY_PENDING_DELETION (FHSM_BASE + 2)
#define CKR_FHSM_AUDIT_INVALID        (FHSM_BASE + 3)
#define CKR_FHSM_NOT_FOUND            (FHSM_BASE + 4)
#define CKR_FHSM_ALIAS_EXISTS         (FHSM_BASE + 5)
#define CKR_FHSM_INCORRECT_KEY        (FHSM_BASE + 6)
#define CKR_FHSM_KEY_PENDING_IMPORT   (FHSM_BASE + 7)
#define CKR_FHSM_INCORRECT_MATERIAL   (FHSM_BASE + 8)
#define CKR_FHSM_IMPORT_TOKEN_INVALID (FHSM_BASE + 9)

/* FHSM_Encrypt / FHSM_ReEncrypt / FHSM_GenerateDataKey flag: keep the
 * encryption context in the blob (readable by whoever holds it). */
#define FHSM_FLAG_STORE_CONTEXT 1UL

#define FHSM_KMS_INTERFACE_NAME "FerroHSM KMS"
#define FHSM_KEY_ID_LEN 32
#define FHSM_DEFAULT_ROTATION_DAYS 365
#define FHSM_MAX_PLAINTEXT 4096

/* PKCS#11 2.40 headers lack the 3.0 interface type. */
#ifndef CKF_INTERFACE_FORK_SAFE
typedef struct CK_INTERFACE {
  CK_CHAR *pInterfaceName;
  CK_VOID_PTR pFunctionList;
  CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_RV (*CK_C_GetInterface)(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                                   CK_INTERFACE_PTR *ppInterface, CK_FLAGS flags);
#endif

/* One pair of an encryption context. Pairs are bound as AAD in a canonical
 * encoding (sorted by key, each key and value length-prefixed). */
typedef struct CK_FHSM_CONTEXT_PAIR {
  CK_BYTE_PTR pKey;
  CK_ULONG ulKeyLen;
  CK_BYTE_PTR pValue;
  CK_ULONG ulValueLen;
} CK_FHSM_CONTEXT_PAIR;

typedef struct CK_FHSM_KMS_WRAP_PARAMS {
  CK_FHSM_CONTEXT_PAIR *pContext;
  CK_ULONG ulContextCount;
} CK_FHSM_KMS_WRAP_PARAMS;

typedef struct CK_FHSM_KEY_ID {
  CK_BYTE_PTR pId;
  CK_ULONG ulIdLen;
} CK_FHSM_KEY_ID;

typedef struct CK_FHSM_KMS_FUNCTION_LIST {
  CK_VERSION version; /* 1.0 */
  /* Generates a master key (template: CKA_LABEL, CKA_ENCRYPT/CKA_DECRYPT for
   * encrypt- or decrypt-only keys, CKA_FHSM_ROTATION_PERIOD, ...); writes its
   * key id (FHSM_KEY_ID_LEN bytes). C_GenerateKey(CKM_AES_KEY_GEN) with
   * CKA_FHSM_KMS = CK_TRUE, CKA_TOKEN = CK_TRUE, CKA_VALUE_LEN = 32 does the same. */
  CK_RV (*FHSM_CreateKey)(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                          CK_BYTE_PTR pKeyId, CK_ULONG_PTR pulKeyIdLen);
  /* A fresh data key of ulKeyLen (1..1024) bytes: in plaintext, and wrapped
   * under every listed master key in one blob (any one recovers it).
   * pPlaintext and pulPlaintextLen both NULL: without plaintext. */
  CK_RV (*FHSM_GenerateDataKey)(CK_SESSION_HANDLE hSession, CK_FHSM_KEY_ID *pKeyIds, CK_ULONG ulKeyIdCount,
                                CK_ULONG ulKeyLen, CK_FHSM_CONTEXT_PAIR *pContext, CK_ULONG ulContextCount,
                                CK_ULONG flags, CK_BYTE_PTR pPlaintext, CK_ULONG_PTR pulPlaintextLen,
                                CK_BYTE_PTR pBlob, CK_ULONG_PTR pulBlobLen);
  /* Up to FHSM_MAX_PLAINTEXT bytes under the key's newest version. */
  CK_RV (*FHSM_Encrypt)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen,
                        CK_FHSM_CONTEXT_PAIR *pContext, CK_ULONG ulContextCount, CK_ULONG flags,
                        CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen);
  /* The key comes from the blob. Wrong context or altered blob:
   * CKR_ENCRYPTED_DATA_INVALID and no output. */
  CK_RV (*FHSM_Decrypt)(CK_SESSION_HANDLE hSession, CK_FHSM_CONTEXT_PAIR *pContext, CK_ULONG ulContextCount,
                        CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen);
  CK_RV (*FHSM_ReEncrypt)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                          CK_FHSM_CONTEXT_PAIR *pSrcContext, CK_ULONG ulSrcContextCount, CK_BYTE_PTR pDestKeyId,
                          CK_ULONG ulDestKeyIdLen, CK_FHSM_CONTEXT_PAIR *pDestContext, CK_ULONG ulDestContextCount,
                          CK_ULONG flags, CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen);
  CK_RV (*FHSM_RotateKey)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen,
                          CK_ULONG_PTR pulNewVersion);
  /* ulPeriodDays 0 turns automatic rotation off, else 90..2560. */
  CK_RV (*FHSM_SetKeyRotation)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen,
                               CK_ULONG ulPeriodDays);
  CK_RV (*FHSM_EnableKey)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen);
  CK_RV (*FHSM_DisableKey)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen);
  /* ulWindowDays 7..30 (0: 30); *pulDeletionTime gets the purge time. */
  CK_RV (*FHSM_ScheduleKeyDeletion)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen,
                                    CK_ULONG ulWindowDays, CK_ULONG_PTR pulDeletionTime);
  /* The key returns disabled. */
  CK_RV (*FHSM_CancelKeyDeletion)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen);
  /* Immediate destruction: an SO session. */
  CK_RV (*FHSM_PurgeKey)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen);
  CK_RV (*FHSM_CreateAlias)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pAlias, CK_ULONG ulAliasLen,
                            CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen);
  CK_RV (*FHSM_UpdateAlias)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pAlias, CK_ULONG ulAliasLen,
                            CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen);
  CK_RV (*FHSM_DeleteAlias)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pAlias, CK_ULONG ulAliasLen);
  /* JSON: [{"AliasName": ..., "TargetKeyId": ...}] */
  CK_RV (*FHSM_ListAliases)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pJson, CK_ULONG_PTR pulJsonLen);
  /* JSON like KMS DescribeKey: KeyId, Aliases, CreationDate, KeyState,
   * KeyUsage, Origin, rotation, Versions, DeletionDate, ... */
  CK_RV (*FHSM_DescribeKey)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen,
                            CK_BYTE_PTR pJson, CK_ULONG_PTR pulJsonLen);
  CK_RV (*FHSM_ListKeys)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pJson, CK_ULONG_PTR pulJsonLen);
  /* CKR_OK (and the record count) or CKR_FHSM_AUDIT_INVALID: the chain, its
   * head, the checkpoints (MACs too for tokens logged in in this process) and
   * the sidecar entries, as `ferrohsm audit verify` (docs/audit.md); a missing
   * sidecar is not a failure here. */
  CK_RV (*FHSM_AuditVerify)(CK_SESSION_HANDLE hSession, CK_ULONG_PTR pulRecords);
  /* JSON array of records at or after ulSince (Unix seconds), optionally
   * only those naming a key id (pKeyId NULL: all). */
  CK_RV (*FHSM_AuditRead)(CK_SESSION_HANDLE hSession, CK_ULONG ulSince, CK_BYTE_PTR pKeyId, CK_ULONG ulKeyIdLen,
                          CK_BYTE_PTR pJson, CK_ULONG_PTR pulJsonLen);
  CK_RV (*FHSM_FlushAudit)(CK_SESSION_HANDLE hSession);
} CK_FHSM_KMS_FUNCTION_LIST;
typedef CK_FHSM_KMS_FUNCTION_LIST *CK_FHSM_KMS_FUNCTION_LIST_PTR;

#endif /* FERROHSM_H */
