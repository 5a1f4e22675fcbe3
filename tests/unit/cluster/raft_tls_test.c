/*
 * raft_tls_test.c -- the Raft TLS transport (cluster/raft_tls.h) driven
 * the way libraft drives it, on one libuv loop: a connect from one node to
 * another's listener reaches the accept callback with the dialer's id and
 * address, bytes cross the relay both ways, a close on one side is an EOF
 * on the other; a dialer with another CA's certificate, and a plaintext
 * client that sends libraft's preamble, never reach the accept callback
 * and are counted as refused; every relay thread is gone after free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "cluster/raft_tls.h"
#include "cluster/tls.h"
#include "runtime/err.h"

struct fixture {
	char root[64];
	char a[128], b[128]; /* two CAs */
	char files[4][3][192]; /* per node: ca, crt, key */
	uv_loop_t loop;
};

/* What the callbacks saw (one test at a time). */
static struct {
	int accepted;
	raft_id id;
	char address[64];
	uv_stream_t *server; /* the accepted stream */
	uv_stream_t *client; /* the connected one */
	int connect_status;
	int connected;
	char got_server[64], got_client[64];
	int eof_server;
	int closed;
} seen;

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[512];
	const char *host[] = {"127.0.0.1"};
	if (f == NULL)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/ls-rafttls-XXXXXX");
	if (mkdtemp(f->root) == NULL)
		return -1;
	snprintf(f->a, sizeof(f->a), "%s/a", f->root);
	snprintf(f->b, sizeof(f->b), "%s/b", f->root);
	if (ls_tls_ca_init(f->a, err, sizeof(err)) != 0 ||
	    ls_tls_ca_init(f->b, err, sizeof(err)) != 0 ||
	    ls_tls_issue(f->a, "n0", host, 1, err, sizeof(err)) != 0 ||
	    ls_tls_issue(f->a, "n1", host, 1, err, sizeof(err)) != 0 ||
	    ls_tls_issue(f->b, "n2", host, 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		const char *d = i == 2 ? f->b : f->a;
		snprintf(f->files[i][0], 192, "%s/ca.crt", d);
		snprintf(f->files[i][1], 192, "%s/n%d.crt", d, i);
		snprintf(f->files[i][2], 192, "%s/n%d.key", d, i);
	}
	if (uv_loop_init(&f->loop) != 0)
		return -1;
	memset(&seen, 0, sizeof(seen));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int
transport(struct fixture *f, int node, struct raft_uv_transport *t,
          const char *address)
{
	ls_tls_files tf = {f->files[node][0], f->files[node][1],
	                   f->files[node][2]};
	char err[256];
	int rc = ls_raft_tls_init(t, &f->loop, &tf, err, sizeof(err));
	if (rc != LS_OK)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, LS_OK);
	return t->init(t, (raft_id)(node + 1), address);
}

/* A free port of 127.0.0.1 (bound once, then released). */
static int
free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t sl = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Run the loop until *flag is set or 10 s passed; the flag's value. */
static int
run_until(struct fixture *f, const int *flag)
{
	time_t end = time(NULL) + 10;
	while (!*flag && time(NULL) < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	return *flag;
}

static void
accept_cb(struct raft_uv_transport *t, raft_id id, const char *address,
          uv_stream_t *stream)
{
	(void)t;
	seen.accepted++;
	seen.id = id;
	snprintf(seen.address, sizeof(seen.address), "%s", address);
	seen.server = stream;
}

static void
connect_cb(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
	(void)req;
	seen.client = stream;
	seen.connect_status = status;
	seen.connected = 1;
}

static void
alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	static char b[256];
	(void)h;
	(void)size;
	*buf = uv_buf_init(b, sizeof(b));
}

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	char *into = s == seen.server ? seen.got_server : seen.got_client;
	if (n < 0) {
		if (s == seen.server)
			seen.eof_server = 1;
		uv_read_stop(s);
		return;
	}
	strncat(into, buf->base, (size_t)n < 63 - strlen(into)
	                             ? (size_t)n
	                             : 63 - strlen(into));
}

static void
write_cb(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void
send_str(uv_stream_t *s, const char *text)
{
	uv_write_t *w = malloc(sizeof(*w));
	uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
	assert_non_null(w);
	assert_int_equal(uv_write(w, s, &b, 1, write_cb), 0);
}

static void
closed_cb(struct raft_uv_transport *t)
{
	(void)t;
	seen.closed++;
}

static void
close_both(struct fixture *f, struct raft_uv_transport *a,
           struct raft_uv_transport *b)
{
	a->close(a, closed_cb);
	b->close(b, closed_cb);
	time_t end = time(NULL) + 10;
	while (seen.closed < 2 && time(NULL) < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(seen.closed, 2);
	ls_raft_tls_free(a);
	ls_raft_tls_free(b);
	assert_int_equal(ls__raft_tls_live(), 0);
}

static void
test_relay(void **state)
{
	struct fixture *f = *state;
	struct raft_uv_transport a, b;
	struct raft_uv_connect req;
	char addr_a[32], addr_b[32];
	snprintf(addr_a, sizeof(addr_a), "127.0.0.1:%d", free_port());
	snprintf(addr_b, sizeof(addr_b), "127.0.0.1:%d", free_port());
	assert_int_equal(transport(f, 0, &a, addr_a), 0);
	assert_int_equal(transport(f, 1, &b, addr_b), 0);
	assert_int_equal(a.listen(&a, accept_cb), 0);

	assert_int_equal(b.connect(&b, &req, 1, addr_a, connect_cb), 0);
	assert_true(run_until(f, &seen.connected));
	assert_int_equal(seen.connect_status, 0);
	assert_non_null(seen.client);
	assert_true(run_until(f, &seen.accepted));
	assert_int_equal(seen.id, 2);
	assert_string_equal(seen.address, addr_b);

	uv_read_start(seen.server, alloc_cb, read_cb);
	uv_read_start(seen.client, alloc_cb, read_cb);
	send_str(seen.client, "ping");
	send_str(seen.server, "pong");
	time_t end = time(NULL) + 10;
	while ((strcmp(seen.got_server, "ping") != 0 ||
	        strcmp(seen.got_client, "pong") != 0) &&
	       time(NULL) < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_string_equal(seen.got_server, "ping");
	assert_string_equal(seen.got_client, "pong");

	/* the dialer closes: the listener's side reads EOF */
	uv_close((uv_handle_t *)seen.client, (uv_close_cb)raft_free);
	assert_true(run_until(f, &seen.eof_server));
	uv_close((uv_handle_t *)seen.server, (uv_close_cb)raft_free);
	assert_int_equal(ls_raft_tls_refused(&a), 0);
	close_both(f, &a, &b);
}

static void
test_refused(void **state)
{
	struct fixture *f = *state;
	struct raft_uv_transport a, c;
	struct raft_uv_connect req;
	char addr_a[32], addr_c[32];
	int port = free_port();
	snprintf(addr_a, sizeof(addr_a), "127.0.0.1:%d", port);
	snprintf(addr_c, sizeof(addr_c), "127.0.0.1:%d", free_port());
	assert_int_equal(transport(f, 0, &a, addr_a), 0);
	assert_int_equal(transport(f, 2, &c, addr_c), 0); /* another CA */
	assert_int_equal(a.listen(&a, accept_cb), 0);

	/* another CA's node: its own check of the server fails first */
	assert_int_equal(c.connect(&c, &req, 1, addr_a, connect_cb), 0);
	assert_true(run_until(f, &seen.connected));
	assert_int_equal(seen.connect_status, RAFT_NOCONNECTION);
	assert_null(seen.client);

	/* plaintext: libraft's own preamble, no TLS */
	unsigned char pre[24 + 24] = {1};
	pre[8] = 3;
	pre[16] = 24;
	memcpy(pre + 24, addr_c, strlen(addr_c));
	uint64_t before = ls_raft_tls_refused(&a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, pre, sizeof(pre), MSG_NOSIGNAL),
	                 (ssize_t)sizeof(pre));
	/* the loop accepts; the thread fails the handshake and counts it
	 * before it posts to the loop */
	time_t end = time(NULL) + 10;
	while (ls_raft_tls_refused(&a) == before && time(NULL) < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(ls_raft_tls_refused(&a) > before);
	char b[64];
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n;
	while ((n = recv(fd, b, sizeof(b), 0)) > 0)
		; /* an alert, then the close */
	assert_true(n == 0 || errno == ECONNRESET);
	close(fd);
	assert_int_equal(seen.accepted, 0);
	close_both(f, &a, &c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
