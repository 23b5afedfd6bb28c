// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"
#include "cookie.h"
#include "cookie_key.h"

#define KEY_HEX_LEN (LB_COOKIE_KEY_LEN * 2)


static void bytes_to_key(const unsigned char *b, __u64 key[2])
{
	int i;

	key[0] = key[1] = 0;
	for (i = 0; i < 8; i++) {
		key[0] |= (__u64)b[i] << (8 * i);
		key[1] |= (__u64)b[8 + i] << (8 * i);
	}
}

static int create_key(const char *path, char *err, size_t errlen)
{
	unsigned char b[LB_COOKIE_KEY_LEN];
	char text[KEY_HEX_LEN + 2];
	int fd, i;

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		snprintf(err, errlen, "%s: cannot get random bytes for a new key: %s", path,
			 strerror(errno));
		return -1;
	}
	for (i = 0; i < LB_COOKIE_KEY_LEN; i++)
		sprintf(text + 2 * i, "%02x", b[i]);
	text[KEY_HEX_LEN] = '\n';
	/* O_EXCL: never overwrite a key another process just wrote. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		snprintf(err, errlen, "%s: cannot create the cookie key: %s (create its directory, "
			 "or set cookie.key_file to a writable path)", path, strerror(errno));
		return -1;
	}
	if (write(fd, text, KEY_HEX_LEN + 1) != KEY_HEX_LEN + 1 || fsync(fd)) {
		snprintf(err, errlen, "%s: cannot write the cookie key: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int lb_cookie_key_load(const char *path, bool create, __u64 key[2], char *err, size_t errlen)
{
	unsigned char b[LB_COOKIE_KEY_LEN];
	char text[KEY_HEX_LEN + 8];
	struct stat st;
	ssize_t n;
	int fd, i;

	if (create && create_key(path, err, errlen))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open the cookie key: %s%s", path, strerror(errno),
			 errno == ENOENT ? " (copy the balancer's key file here)" : "");
		return -1;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		fprintf(stderr, "latebind: warning: %s is readable by others (mode %03o); "
			"chmod 600 it: whoever has it can forge hand-offs\n", path, st.st_mode & 0777);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot read the cookie key: %s", path, strerror(errno));
		return -1;
	}
	text[n] = '\0';
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		text[--n] = '\0';
	if (n != KEY_HEX_LEN) {
		snprintf(err, errlen, "%s: a cookie key is %d hex digits on one line, this file has "
			 "%zd characters", path, KEY_HEX_LEN, n);
		return -1;
	}
	for (i = 0; i < LB_COOKIE_KEY_LEN; i++) {
		int hi = lb_hex_digit(text[2 * i]), lo = lb_hex_digit(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "%s: character %d is not a hex digit; a cookie key is %d "
				 "hex digits", path, 2 * i + (hi < 0 ? 1 : 2), KEY_HEX_LEN);
			return -1;
		}
		b[i] = hi << 4 | lo;
	}
	bytes_to_key(b, key);
	return 0;
}
