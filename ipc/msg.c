/* The table-driven decoder and encoder behind every catalogue (msg.h). */
#include "msg.h"

#include <errno.h>
#include <string.h>

static const struct msg_kind *kind_find(const struct msg_catalogue *cat, uint32_t type)
{
	size_t i;

	for (i = 0; i < cat->nkinds; i++) {
		if (cat->kinds[i].type == type)
			return &cat->kinds[i];
	}
	return NULL;
}

/* Fixed counts are checked before the body is looked at; a count the body names, after. */
static int check_body(const struct msg_kind *k, const void *body, unsigned int nfds)
{
	int ret;

	if (!k->fds_named && nfds != k->nfds)
		return -EPROTO;
	ret = k->check ? k->check(body) : 0;
	if (ret < 0)
		return ret;
	if (k->fds_named && nfds != k->fds_named(body))
		return -EPROTO;
	return 0;
}

int msg_decode(const struct msg_catalogue *cat, const void *buf, size_t len, unsigned int nfds,
	       void *out, size_t out_size)
{
	uint8_t *body = (uint8_t *)out + sizeof(struct msg_hdr);
	const struct msg_kind *k;
	struct msg_hdr hdr;

	if (len < sizeof(hdr))
		return -EBADMSG;
	memcpy(&hdr, buf, sizeof(hdr));
	hdr.type = le32toh(hdr.type);
	hdr.size = le32toh(hdr.size);
	k = kind_find(cat, hdr.type);
	if (!k)
		return -ENOMSG;
	if (hdr.size != len || len != sizeof(hdr) + k->body_size || len > out_size)
		return -EBADMSG;
	memset(out, 0, out_size);
	memcpy(out, &hdr, sizeof(hdr));
	memcpy(body, (const uint8_t *)buf + sizeof(hdr), k->body_size);
	if (k->swap)
		k->swap(body);
	return check_body(k, body, nfds);
}

int msg_encode(const struct msg_catalogue *cat, const void *msg, unsigned int nfds, void *buf,
	       size_t cap, size_t *len)
{
	const uint8_t *body = (const uint8_t *)msg + sizeof(struct msg_hdr);
	/* the swap works on an aligned copy: buf may be any byte buffer */
	union {
		uint64_t align;
		uint8_t bytes[MSG_MAX_SIZE];
	} wire;
	const struct msg_kind *k;
	struct msg_hdr hdr;
	int ret;

	memcpy(&hdr, msg, sizeof(hdr));
	k = kind_find(cat, hdr.type);
	if (!k)
		return -ENOMSG;
	if (cap < sizeof(hdr) + k->body_size || sizeof(hdr) + k->body_size > sizeof(wire))
		return -EMSGSIZE;
	ret = check_body(k, body, nfds);
	if (ret < 0)
		return ret;
	hdr.type = htole32(k->type);
	hdr.size = htole32((uint32_t)(sizeof(hdr) + k->body_size));
	memcpy(wire.bytes, &hdr, sizeof(hdr));
	memcpy(wire.bytes + sizeof(hdr), body, k->body_size);
	if (k->swap)
		k->swap(wire.bytes + sizeof(hdr));
	memcpy(buf, wire.bytes, sizeof(hdr) + k->body_size);
	*len = sizeof(hdr) + k->body_size;
	return 0;
}

const char *msg_name(const struct msg_catalogue *cat, uint32_t type)
{
	const struct msg_kind *k = kind_find(cat, type);

	return k ? k->name : NULL;
}

bool msg_is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

int msg_check_str(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size || !msg_is_zero(s + n, size - n))
		return -EBADMSG;
	return 0;
}

int msg_set_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memset(dst, 0, size);
	memcpy(dst, src, n);
	return 0;
}

int msg_check_status(int32_t status)
{
	return status <= 0 && status >= -MSG_ERRNO_MAX ? 0 : -ERANGE;
}

int32_t msg_status(int err)
{
	return err <= 0 && err >= -MSG_ERRNO_MAX ? err : -EIO;
}

bool msg_range_ok(uint64_t start, uint64_t len)
{
	return len > 0 && start + len > start;
}

bool msg_page_aligned(uint64_t v)
{
	return v % MSG_PAGE_SIZE == 0;
}
