#include "msix.h"

#include <errno.h>
#include <string.h>

#define MSIX_TABLE_SIZE_MASK 0x07ff

int msix_init(struct msix *m, struct pci_device *d, unsigned int nvec, unsigned int bar,
	      uint32_t table_off, uint32_t pba_off)
{
	uint8_t body[10];
	uint32_t table = table_off | bar, pba = pba_off | bar;
	int off;

	if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS || (table_off & 7) ||
	    (pba_off & 7))
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->nvec = nvec;
	for (unsigned int i = 0; i < nvec; i++)
		m->table[i].ctrl = MSIX_ENTRY_MASKED;
	body[0] = (uint8_t)(nvec - 1);
	body[1] = (uint8_t)((nvec - 1) >> 8);
	for (unsigned int i = 0; i < 4; i++) {
		body[2 + i] = (uint8_t)(table >> (8 * i));
		body[6 + i] = (uint8_t)(pba >> (8 * i));
	}
	off = pci_cap_add(d, MSIX_CAP_ID, body, sizeof(body));
	if (off < 0)
		return off;
	m->cap = (uint32_t)off;
	/* Only the enable and function mask bits of message control are the guest's. */
	d->wmask[m->cap + 3] = (uint8_t)((MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8);
	return 0;
}

bool msix_cfg_written(struct msix *m, const struct pci_device *d, uint32_t off, uint32_t len)
{
	uint32_t ctrl_off = m->cap + 2;
	uint16_t ctrl;
	bool enabled, masked;

	if (off >= ctrl_off + 2 || off + len <= ctrl_off)
		return false;
	ctrl = (uint16_t)pci_cfg_read(d, ctrl_off, 2);
	enabled = ctrl & MSIX_CTRL_ENABLE;
	masked = ctrl & MSIX_CTRL_MASKALL;
	if (enabled == m->enabled && masked == m->masked)
		return false;
	m->enabled = enabled;
	m->masked = masked;
	return true;
}

static uint32_t *entry_dword(struct msix_entry *e, unsigned int i)
{
	uint32_t *const fields[] = {&e->addr_lo, &e->addr_hi, &e->data, &e->ctrl};

	return fields[i];
}

static uint32_t entry_get(const struct msix_entry *e, unsigned int i)
{
	const uint32_t fields[] = {e->addr_lo, e->addr_hi, e->data, e->ctrl};

	return fields[i];
}

void msix_table_read(const struct msix *m, uint64_t off, uint8_t *data, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		uint32_t v = 0;

		if (o < (uint64_t)m->nvec * MSIX_ENTRY_SIZE)
			v = entry_get(&m->table[o / MSIX_ENTRY_SIZE],
				      (unsigned int)(o % MSIX_ENTRY_SIZE) / 4);
		data[i] = (uint8_t)(v >> (8 * (o & 3)));
	}
}

int msix_table_write(struct msix *m, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct msix_entry *e, before;
	unsigned int vec;

	if ((len != 4 && len != 8) || (off & (len - 1)) ||
	    off + len > (uint64_t)m->nvec * MSIX_ENTRY_SIZE)
		return -1;
	vec = (unsigned int)(off / MSIX_ENTRY_SIZE);
	e = &m->table[vec];
	before = *e;
	for (uint32_t i = 0; i < len; i += 4) {
		unsigned int field = (unsigned int)((off + i) % MSIX_ENTRY_SIZE) / 4;
		uint32_t v = data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
			     (uint32_t)data[i + 3] << 24;

		/* Address bits 1:0 are zero; vector control has only the mask bit. */
		if (field == 0)
			v &= ~3u;
		else if (field == 3)
			v &= MSIX_ENTRY_MASKED;
		*entry_dword(e, field) = v;
	}
	return memcmp(&before, e, sizeof(before)) ? (int)vec : -1;
}

void msix_pba_read(const struct msix *m, uint64_t off, uint8_t *data, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		data[i] = off + i < MSIX_PBA_SIZE ? (uint8_t)(m->pba >> (8 * (off + i))) : 0;
}

void msix_set_pending(struct msix *m, unsigned int vec, bool pending)
{
	if (vec >= m->nvec)
		return;
	if (pending)
		m->pba |= 1ull << vec;
	else
		m->pba &= ~(1ull << vec);
}

bool msix_vector_live(const struct msix *m, unsigned int vec, uint64_t *addr, uint32_t *data)
{
	const struct msix_entry *e;

	if (vec >= m->nvec || !m->enabled || m->masked)
		return false;
	e = &m->table[vec];
	if (e->ctrl & MSIX_ENTRY_MASKED)
		return false;
	*addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
	*data = e->data;
	return true;
}
