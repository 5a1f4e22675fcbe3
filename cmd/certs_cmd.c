/*
 * certs_cmd.c -- `logstream certs init|issue`: writes a development CA and
 * node certificates with cluster/tls.h.  See certs_cmd.h.
 */
#include "cmd/certs_cmd.h"

#include <stdio.h>
#include <string.h>

#include "cluster/tls.h"
#include "runtime/err.h"

static void
usage_certs(FILE *f)
{
	fprintf(f,
	    "usage: logstream certs init --dir DIR\n"
	    "       logstream certs issue --dir DIR --name NODE [--host H]...\n"
	    "\n"
	    "Development certificates for mutual TLS between nodes and for\n"
	    "the HTTPS API (docs/cluster.md, \"Security\").  Keys are EC P-256,\n"
	    "certificates signed with ECDSA-SHA256, all PEM.  For production,\n"
	    "use your own CA; any PEM CA, certificate and key will do.\n"
	    "\n"
	    "  init    write DIR/ca.key (mode 0600) and the self-signed\n"
	    "          DIR/ca.crt, valid 10 years; never overwrites a CA\n"
	    "  issue   write DIR/NODE.key and DIR/NODE.crt signed by the CA in\n"
	    "          DIR, valid 2 years: CN = NODE, subjectAltName = the\n"
	    "          --host names (give every address peers and clients use\n"
	    "          to reach the node: the --listen and --http hosts)\n"
	    "\n"
	    "Then run the node with --tls-ca DIR/ca.crt --tls-cert "
	    "DIR/NODE.crt\n--tls-key DIR/NODE.key.\n");
}

static void
usage_init(FILE *f)
{
	fprintf(f,
	    "usage: logstream certs init --dir DIR\n"
	    "\n"
	    "Create DIR if needed and write a new development cluster CA:\n"
	    "DIR/ca.key (EC P-256, mode 0600) and DIR/ca.crt (self-signed,\n"
	    "CN \"logstream cluster CA\", valid 10 years).  An existing\n"
	    "DIR/ca.key is never overwritten (exit 1).\n"
	    "\n"
	    "options:\n"
	    "  --dir DIR   where the CA goes\n"
	    "  -h, --help  this help\n");
}

static void
usage_issue(FILE *f)
{
	fprintf(f,
	    "usage: logstream certs issue --dir DIR --name NODE [--host H]...\n"
	    "\n"
	    "Write DIR/NODE.key (EC P-256, mode 0600) and DIR/NODE.crt, signed\n"
	    "by DIR/ca.crt and DIR/ca.key, valid 2 years, CN = NODE.  Each\n"
	    "--host (an IP address or a DNS name) is a subjectAltName; peers\n"
	    "and HTTPS clients check the host they connect to against them.\n"
	    "An existing DIR/NODE.key is never overwritten (exit 1).\n"
	    "\n"
	    "options:\n"
	    "  --dir DIR    the CA's directory (logstream certs init)\n"
	    "  --name NODE  node name (1 to 64 of A-Z a-z 0-9 . _ -)\n"
	    "  --host H     an address of the node, repeatable (at most 16)\n"
	    "  -h, --help   this help\n");
}

static int
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

int
ls_cmd_certs(int argc, char **argv)
{
	if (argc < 1 || is_help(argv[0])) {
		usage_certs(argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	const char *sub = argv[0];
	int init = strcmp(sub, "init") == 0;
	if (!init && strcmp(sub, "issue") != 0) {
		fprintf(stderr, "logstream certs: unknown command '%s'\n", sub);
		usage_certs(stderr);
		return 2;
	}
	const char *dir = NULL, *name = NULL;
	const char *hosts[LS_TLS_MAX_HOSTS];
	size_t nhosts = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_help(a)) {
			(init ? usage_init : usage_issue)(stdout);
			return 0;
		}
		int has = i + 1 < argc;
		if (strcmp(a, "--dir") == 0 && has) {
			dir = argv[++i];
		} else if (!init && strcmp(a, "--name") == 0 && has) {
			name = argv[++i];
		} else if (!init && strcmp(a, "--host") == 0 && has) {
			if (nhosts == LS_TLS_MAX_HOSTS) {
				fprintf(stderr, "logstream certs issue: more "
				    "than %d --host\n", LS_TLS_MAX_HOSTS);
				return 2;
			}
			hosts[nhosts++] = argv[++i];
		} else {
			fprintf(stderr, "logstream certs %s: unexpected '%s'%s\n",
			    sub, a, has || a[0] != '-' ? "" : " (needs a value)");
			(init ? usage_init : usage_issue)(stderr);
			return 2;
		}
	}
	if (dir == NULL || (!init && name == NULL)) {
		fprintf(stderr, "logstream certs %s: --dir%s required\n", sub,
		    init ? " is" : " and --name are");
		(init ? usage_init : usage_issue)(stderr);
		return 2;
	}
	char err[1024] = "";
	int rv = init ? ls_tls_ca_init(dir, err, sizeof(err))
	              : ls_tls_issue(dir, name, hosts, nhosts, err,
	                    sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "logstream certs %s: %s\n", sub,
		    err[0] ? err : ls_strerror(rv));
		return rv == LS_EINVAL ? 2 : 1;
	}
	if (init)
		printf("%s/ca.crt %s/ca.key\n", dir, dir);
	else
		printf("%s/%s.crt %s/%s.key\n", dir, name, dir, name);
	return 0;
}
