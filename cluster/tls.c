/*
 * tls.c -- development CA and node certificates with mbedtls 2.28, checks
 * of a node's TLS files, and nng TLS configurations.  See tls.h.
 *
 * subjectAltName as written (RFC 5280 4.2.1.6), DER:
 *
 *   SEQUENCE {
 *     [2] IMPLICIT IA5String   dNSName    (tag 0x82)  one per host
 *     [7] IMPLICIT OCTET STRING iPAddress (tag 0x87)  4 or 16 bytes
 *   }
 *
 * mbedtls 2.28 has no SAN writer, so the extension is assembled here with
 * its ASN.1 writer (which writes backwards, from the end of the buffer).
 */
#include "cluster/tls.h"
#include "cluster/tls_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "runtime/err.h"

#define PEM_MAX 8192
#define SAN_MAX 4096

static int
fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* mbedtls error text of rv into buf. */
static const char *
mbed_reason(int rv, char *buf, size_t cap)
{
	mbedtls_strerror(rv, buf, cap);
	return buf;
}

typedef struct rng {
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
} rng;

static int
rng_init(rng *r)
{
	static const char pers[] = "logstream certs";
	mbedtls_entropy_init(&r->ent);
	mbedtls_ctr_drbg_init(&r->drbg);
	return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->ent,
	                             (const unsigned char *)pers,
	                             sizeof(pers) - 1);
}

static void
rng_free(rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->ent);
}

/* Write len bytes to path, created new with mode (never overwritten). */
static int
write_new(const char *path, const void *buf, size_t len, mode_t mode,
          char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return fail(err, errlen, errno == EEXIST ? LS_EEXIST : LS_EIO,
		            "%s: %s", path, strerror(errno));
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			close(fd);
			unlink(path);
			return fail(err, errlen, LS_EIO, "%s: %s", path,
			            strerror(e));
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(path);
		return fail(err, errlen, LS_EIO, "%s: %s", path,
		            strerror(errno));
	}
	return LS_OK;
}

static int
gen_key(mbedtls_pk_context *k, rng *r)
{
	int rv = mbedtls_pk_setup(k, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (rv != 0)
		return rv;
	return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*k),
	                           mbedtls_ctr_drbg_random, &r->drbg);
}

/* "YYYYMMDDhhmmss" for now + years (UTC). */
static void
validity(char *from, char *to, int years)
{
	time_t now = time(NULL) - 3600; /* an hour of clock skew */
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(from, 16, "%Y%m%d%H%M%S", &tm);
	tm.tm_year += years;
	if (tm.tm_mon == 1 && tm.tm_mday == 29)
		tm.tm_mday = 28;
	strftime(to, 16, "%Y%m%d%H%M%S", &tm);
}

static int
random_serial(mbedtls_mpi *s, rng *r)
{
	unsigned char b[16];
	int rv = mbedtls_ctr_drbg_random(&r->drbg, b, sizeof(b));
	if (rv != 0)
		return rv;
	b[0] &= 0x7f; /* positive */
	b[0] |= 0x40; /* and 16 bytes long */
	return mbedtls_mpi_read_binary(s, b, sizeof(b));
}

static int
dir_ready(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return fail(err, errlen, LS_EIO, "%s: %s", dir,
		            strerror(errno));
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return fail(err, errlen, LS_EIO, "%s: not a directory", dir);
	return LS_OK;
}

/* Sign crt (subject, key and extensions set) with issuer_key, PEM into
 * pem; then write key_pem to key_path and pem to crt_path. */
static int
sign_and_write(mbedtls_x509write_cert *crt, mbedtls_pk_context *key,
               rng *r, const char *key_path, const char *crt_path,
               char *err, size_t errlen)
{
	unsigned char *kpem = calloc(1, PEM_MAX), *cpem = calloc(1, PEM_MAX);
	char why[128];
	int rv;
	if (kpem == NULL || cpem == NULL) {
		rv = fail(err, errlen, LS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rv = mbedtls_x509write_crt_pem(crt, cpem, PEM_MAX,
	                                    mbedtls_ctr_drbg_random,
	                                    &r->drbg)) != 0) {
		rv = fail(err, errlen, LS_EINTERNAL, "%s: cannot sign: %s",
		          crt_path, mbed_reason(rv, why, sizeof(why)));
		goto out;
	}
	if ((rv = mbedtls_pk_write_key_pem(key, kpem, PEM_MAX)) != 0) {
		rv = fail(err, errlen, LS_EINTERNAL, "%s: cannot encode: %s",
		          key_path, mbed_reason(rv, why, sizeof(why)));
		goto out;
	}
	rv = write_new(key_path, kpem, strlen((char *)kpem), 0600, err,
	               errlen);
	if (rv != 0)
		goto out;
	rv = write_new(crt_path, cpem, strlen((char *)cpem), 0644, err,
	               errlen);
	if (rv != 0)
		unlink(key_path);
out:
	if (kpem != NULL)
		mbedtls_platform_zeroize(kpem, PEM_MAX);
	free(kpem);
	free(cpem);
	return rv;
}

int
ls_tls_ca_init(const char *dir, char *err, size_t errlen)
{
	if (dir == NULL || dir[0] == '\0')
		return fail(err, errlen, LS_EINVAL, "no directory given");
	int rv = dir_ready(dir, err, errlen);
	if (rv != 0)
		return rv;
	char kp[4096], cp[4096], from[16], to[16], why[128];
	snprintf(kp, sizeof(kp), "%s/ca.key", dir);
	snprintf(cp, sizeof(cp), "%s/ca.crt", dir);
	if (access(kp, F_OK) == 0)
		return fail(err, errlen, LS_EEXIST,
		            "%s: exists (a CA is never overwritten)", kp);

	rng r;
	mbedtls_pk_context key;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	if ((rv = rng_init(&r)) != 0 || (rv = gen_key(&key, &r)) != 0 ||
	    (rv = random_serial(&serial, &r)) != 0) {
		rv = fail(err, errlen, LS_EINTERNAL, "%s: cannot make a key: %s",
		          kp, mbed_reason(rv, why, sizeof(why)));
		goto out;
	}
	validity(from, to, 10);
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &key);
	if ((rv = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0 ||
	    (rv = mbedtls_x509write_crt_set_validity(&crt, from, to)) != 0 ||
	    (rv = mbedtls_x509write_crt_set_subject_name(
	         &crt, "CN=logstream cluster CA,O=logstream")) != 0 ||
	    (rv = mbedtls_x509write_crt_set_issuer_name(
	         &crt, "CN=logstream cluster CA,O=logstream")) != 0 ||
	    (rv = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0)) !=
	        0 ||
	    (rv = mbedtls_x509write_crt_set_key_usage(
	         &crt, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN |
	                   MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0 ||
	    (rv = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) !=
	        0 ||
	    (rv = mbedtls_x509write_crt_set_authority_key_identifier(&crt)) !=
	        0) {
		rv = fail(err, errlen, LS_EINTERNAL, "%s: %s", cp,
		          mbed_reason(rv, why, sizeof(why)));
		goto out;
	}
	rv = sign_and_write(&crt, &key, &r, kp, cp, err, errlen);
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	rng_free(&r);
	return rv;
}

static int
name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LS_TLS_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

/* A DNS name: 1..253 of letters, digits, '-', '.', '*'. */
static int
dns_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '*'))
			return 0;
	}
	return 1;
}

/* Prepend one GeneralName (tag, bytes) at *p (backwards). */
static int
san_put(unsigned char **p, unsigned char *start, unsigned char tag,
        const void *b, size_t n)
{
	int len = 0, rv;
	if ((rv = mbedtls_asn1_write_raw_buffer(p, start, b, n)) < 0)
		return rv;
	len += rv;
	if ((rv = mbedtls_asn1_write_len(p, start, n)) < 0)
		return rv;
	len += rv;
	if ((rv = mbedtls_asn1_write_tag(p, start, tag)) < 0)
		return rv;
	return len + rv;
}

/* The subjectAltName DER of hosts at *out (inside buf); its length, or a
 * negative mbedtls error, or 0 when a host is malformed (*bad names it). */
static int
san_der(const char *const *hosts, size_t nhosts, unsigned char *buf,
        size_t cap, unsigned char **out, const char **bad)
{
	unsigned char *p = buf + cap;
	int total = 0, rv;
	for (size_t i = nhosts; i-- > 0;) {
		const char *h = hosts[i];
		unsigned char ip[16];
		if (inet_pton(AF_INET, h, ip) == 1 ||
		    inet_pton(AF_INET6, h, ip) == 1) {
			size_t n = strchr(h, ':') != NULL ? 16 : 4;
			if ((rv = san_put(&p, buf, 0x87, ip, n)) < 0)
				return rv;
			total += rv;
		} else if (!dns_ok(h)) {
			*bad = h;
			return 0;
		}
		/* dNSName for IPs too: see tls.h. */
		if ((rv = san_put(&p, buf, 0x82, h, strlen(h))) < 0)
			return rv;
		total += rv;
	}
	if ((rv = mbedtls_asn1_write_len(&p, buf, (size_t)total)) < 0)
		return rv;
	total += rv;
	if ((rv = mbedtls_asn1_write_tag(
	         &p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rv;
	total += rv;
	*out = p;
	return total;
}

int
ls_tls_issue(const char *dir, const char *name, const char *const *hosts,
             size_t nhosts, char *err, size_t errlen)
{
	if (dir == NULL || name == NULL || (hosts == NULL && nhosts > 0))
		return fail(err, errlen, LS_EINVAL, "missing argument");
	if (!name_ok(name))
		return fail(err, errlen, LS_EINVAL,
		            "bad node name '%s' (1 to %d of A-Z a-z 0-9 . _ -)",
		            name, LS_TLS_MAX_NAME);
	if (nhosts > LS_TLS_MAX_HOSTS)
		return fail(err, errlen, LS_EINVAL, "more than %d hosts",
		            LS_TLS_MAX_HOSTS);
	char cak[4096], cac[4096], kp[4096], cp[4096], from[16], to[16];
	char why[128], subj[128];
	snprintf(cak, sizeof(cak), "%s/ca.key", dir);
	snprintf(cac, sizeof(cac), "%s/ca.crt", dir);
	snprintf(kp, sizeof(kp), "%s/%s.key", dir, name);
	snprintf(cp, sizeof(cp), "%s/%s.crt", dir, name);
	snprintf(subj, sizeof(subj), "CN=%s,O=logstream", name);

	unsigned char *sanbuf = malloc(SAN_MAX), *san = NULL;
	if (sanbuf == NULL)
		return fail(err, errlen, LS_ENOMEM, "out of memory");
	const char *bad = NULL;
	int sanlen = nhosts > 0 ? san_der(hosts, nhosts, sanbuf, SAN_MAX,
	                                  &san, &bad)
	                        : 0;
	if (bad != NULL || sanlen < 0) {
		free(sanbuf);
		return fail(err, errlen, LS_EINVAL,
		            "bad --host '%s' (an IP address or a DNS name)",
		            bad ? bad : "?");
	}
	if (access(kp, F_OK) == 0) {
		free(sanbuf);
		return fail(err, errlen, LS_EEXIST,
		            "%s: exists (never overwritten)", kp);
	}

	rng r;
	mbedtls_pk_context key, ca_key;
	mbedtls_x509_crt ca;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	char ca_subj[512];
	int rv;
	mbedtls_pk_init(&key);
	mbedtls_pk_init(&ca_key);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	if ((rv = rng_init(&r)) != 0) {
		rv = fail(err, errlen, LS_EINTERNAL, "random: %s",
		          mbed_reason(rv, why, sizeof(why)));
		goto out;
	}
	if ((rv = mbedtls_x509_crt_parse_file(&ca, cac)) != 0) {
		rv = fail(err, errlen, LS_EIO, "%s: %s (run `logstream certs "
		          "init --dir %s` first)", cac,
		          mbed_reason(rv, why, sizeof(why)), dir);
		goto out;
	}
	if ((rv = mbedtls_pk_parse_keyfile(&ca_key, cak, NULL)) != 0) {
		rv = fail(err, errlen, LS_EIO, "%s: %s", cak,
		          mbed_reason(rv, why, sizeof(why)));
		goto out;
	}
	if ((rv = mbedtls_pk_check_pair(&ca.pk, &ca_key)) != 0) {
		rv = fail(err, errlen, LS_ECORRUPT,
		          "%s: not the key of %s", cak, cac);
		goto out;
	}
	if ((rv = mbedtls_x509_dn_gets(ca_subj, sizeof(ca_subj),
	                               &ca.subject)) < 0) {
		rv = fail(err, errlen, LS_ECORRUPT, "%s: bad subject", cac);
		goto out;
	}
	if ((rv = gen_key(&key, &r)) != 0 ||
	    (rv = random_serial(&serial, &r)) != 0) {
		rv = fail(err, errlen, LS_EINTERNAL, "%s: cannot make a key: %s",
		          kp, mbed_reason(rv, why, sizeof(why)));
		goto out;
	}
	validity(from, to, 2);
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &ca_key);
	if ((rv = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0 ||
	    (rv = mbedtls_x509write_crt_set_validity(&crt, from, to)) != 0 ||
	    (rv = mbedtls_x509write_crt_set_subject_name(&crt, subj)) != 0 ||
	    (rv = mbedtls_x509write_crt_set_issuer_name(&crt, ca_subj)) != 0 ||
	    (rv = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1)) !=
	        0 ||
	    (rv = mbedtls_x509write_crt_set_key_usage(
	         &crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE |
	                   MBEDTLS_X509_KU_KEY_AGREEMENT)) != 0 ||
	    (rv = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) !=
	        0 ||
	    (rv = mbedtls_x509write_crt_set_authority_key_identifier(&crt)) !=
	        0 ||
	    (sanlen > 0 &&
	     (rv = mbedtls_x509write_crt_set_extension(
	          &crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
	          MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san,
	          (size_t)sanlen)) != 0)) {
		rv = fail(err, errlen, LS_EINTERNAL, "%s: %s", cp,
		          mbed_reason(rv, why, sizeof(why)));
		goto out;
	}
	rv = sign_and_write(&crt, &key, &r, kp, cp, err, errlen);
out:
	free(sanbuf);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	mbedtls_pk_free(&ca_key);
	mbedtls_pk_free(&key);
	rng_free(&r);
	return rv;
}

static int
load_crt(mbedtls_x509_crt *c, const char *path, char *err, size_t errlen)
{
	char why[128];
	int rv = mbedtls_x509_crt_parse_file(c, path);
	if (rv < 0)
		return fail(err, errlen, LS_EIO, "%s: %s", path,
		            mbed_reason(rv, why, sizeof(why)));
	if (rv > 0)
		return fail(err, errlen, LS_ECORRUPT,
		            "%s: %d certificate(s) could not be parsed", path,
		            rv);
	return LS_OK;
}

static int
verify_loaded(mbedtls_x509_crt *ca, mbedtls_x509_crt *crt,
              const char *cert_file, char *err, size_t errlen)
{
	uint32_t flags = 0;
	int rv = mbedtls_x509_crt_verify(crt, ca, NULL, NULL, &flags, NULL,
	                                 NULL);
	if (rv == 0)
		return LS_OK;
	char why[512];
	if (flags != 0) {
		mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags);
		size_t n = strlen(why);
		while (n > 0 && why[n - 1] == '\n')
			why[--n] = '\0';
		for (char *q = why; *q != '\0'; q++)
			if (*q == '\n')
				*q = ';';
	} else {
		mbed_reason(rv, why, sizeof(why));
	}
	return fail(err, errlen, LS_ECORRUPT,
	            "%s: does not verify against the CA: %s", cert_file, why);
}

int
ls_tls_verify(const char *ca_file, const char *cert_file, char *err,
              size_t errlen)
{
	if (ca_file == NULL || cert_file == NULL)
		return fail(err, errlen, LS_EINVAL, "missing file");
	mbedtls_x509_crt ca, crt;
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&crt);
	int rv = load_crt(&ca, ca_file, err, errlen);
	if (rv == 0)
		rv = load_crt(&crt, cert_file, err, errlen);
	if (rv == 0)
		rv = verify_loaded(&ca, &crt, cert_file, err, errlen);
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	return rv;
}

int
ls_tls_enabled(const ls_tls_files *f)
{
	return f != NULL && f->ca != NULL && f->cert != NULL && f->key != NULL;
}

int
ls_tls_check(const ls_tls_files *f, char *err, size_t errlen)
{
	if (f == NULL || (f->ca == NULL && f->cert == NULL && f->key == NULL))
		return LS_OK;
	if (!ls_tls_enabled(f))
		return fail(err, errlen, LS_EINVAL,
		            "--tls-ca, --tls-cert and --tls-key go together "
		            "(missing --tls-%s)",
		            f->ca == NULL ? "ca" : f->cert == NULL ? "cert" : "key");
	const char *files[3] = {f->ca, f->cert, f->key};
	for (int i = 0; i < 3; i++) {
		FILE *fp = fopen(files[i], "rb");
		if (fp == NULL)
			return fail(err, errlen, LS_EIO, "%s: %s", files[i],
			            strerror(errno));
		fclose(fp);
	}
	mbedtls_x509_crt ca, crt;
	mbedtls_pk_context key;
	char why[128];
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	int rv = load_crt(&ca, f->ca, err, errlen);
	if (rv == 0)
		rv = load_crt(&crt, f->cert, err, errlen);
	if (rv == 0) {
		int m = mbedtls_pk_parse_keyfile(&key, f->key, NULL);
		if (m != 0)
			rv = fail(err, errlen, m == MBEDTLS_ERR_PK_FILE_IO_ERROR
			                           ? LS_EIO
			                           : LS_ECORRUPT,
			          "%s: %s", f->key,
			          mbed_reason(m, why, sizeof(why)));
	}
	if (rv == 0 && mbedtls_pk_check_pair(&crt.pk, &key) != 0)
		rv = fail(err, errlen, LS_ECORRUPT,
		          "%s: not the private key of %s", f->key, f->cert);
	if (rv == 0)
		rv = verify_loaded(&ca, &crt, f->cert, err, errlen);
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	return rv;
}

char *
ls__tls_slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	char *b = malloc(PEM_MAX * 4 + 1);
	size_t n = b != NULL ? fread(b, 1, PEM_MAX * 4, fp) : 0;
	int bad = b == NULL || ferror(fp) || !feof(fp);
	fclose(fp);
	if (bad) {
		free(b);
		errno = b == NULL ? ENOMEM : EFBIG;
		return NULL;
	}
	b[n] = '\0';
	if (len != NULL)
		*len = n;
	return b;
}

int
ls_tls_nng_config(const ls_tls_files *f, int server, const char *server_name,
                  struct nng_tls_config **out, char *err, size_t errlen)
{
	if (!ls_tls_enabled(f) || out == NULL)
		return fail(err, errlen, LS_EINVAL, "TLS files not set");
	nng_tls_config *c = NULL;
	char *cert = NULL, *key = NULL;
	int rv = nng_tls_config_alloc(&c, server ? NNG_TLS_MODE_SERVER
	                                         : NNG_TLS_MODE_CLIENT);
	if (rv != 0)
		return fail(err, errlen, LS_ENOMEM, "TLS: %s", nng_strerror(rv));
	if ((cert = ls__tls_slurp(f->cert, NULL)) == NULL) {
		rv = fail(err, errlen, LS_EIO, "%s: %s", f->cert,
		          strerror(errno));
		goto bad;
	}
	if ((key = ls__tls_slurp(f->key, NULL)) == NULL) {
		rv = fail(err, errlen, LS_EIO, "%s: %s", f->key,
		          strerror(errno));
		goto bad;
	}
	if ((rv = nng_tls_config_ca_file(c, f->ca)) != 0) {
		rv = fail(err, errlen, LS_EIO, "%s: %s", f->ca,
		          nng_strerror(rv));
		goto bad;
	}
	if ((rv = nng_tls_config_own_cert(c, cert, key, NULL)) != 0) {
		rv = fail(err, errlen, LS_EIO, "%s, %s: %s", f->cert, f->key,
		          nng_strerror(rv));
		goto bad;
	}
	if ((rv = nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	        0 ||
	    (!server && server_name != NULL &&
	     (rv = nng_tls_config_server_name(c, server_name)) != 0)) {
		rv = fail(err, errlen, LS_EIO, "TLS: %s", nng_strerror(rv));
		goto bad;
	}
	mbedtls_platform_zeroize(key, strlen(key));
	free(key);
	free(cert);
	*out = c;
	return LS_OK;
bad:
	if (key != NULL)
		mbedtls_platform_zeroize(key, strlen(key));
	free(key);
	free(cert);
	nng_tls_config_free(c);
	return rv;
}
