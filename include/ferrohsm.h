/*
 * FerroHSM vendor definitions. Build against a standard PKCS#11 header
 * (for example p11-kit's <p11-kit/pkcs11.h>) and include this after it.
 */
#ifndef FERROHSM_H
#define FERROHSM_H

/* Library identity, as C_GetInfo reports it. */
#define FERROHSM_MANUFACTURER_ID "FerroHSM project"

/* Environment variable naming the TOML configuration file. */
#define FERROHSM_CONF_ENV "FERROHSM_CONF"

#endif /* FERROHSM_H */
