#include "boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bzimage.h"
#include "elf_loader.h"
#include "layout.h"
#include "mptable.h"
#include "pvh.h"
#include "util.h"
#include "zeropage.h"

#define PAGE_SIZE 4096
#define BOOT_PDPT (BOOT_PML4 + PAGE_SIZE)
#define BOOT_PD (BOOT_PML4 + 2 * PAGE_SIZE)
#define BOOT_PD_COUNT 4 /* one per GiB: the first 4 GiB */
#define BOOT_PT_PAGES (2 + BOOT_PD_COUNT)
#define PTE_PRESENT 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL /* a 2 MiB page in a page directory */

#define GDT_ENTRIES 6	  /* null, unused, code, data, and the 16-byte TSS descriptor */
#define GDT_CODE64 0xa09b /* G, L; present, code, execute/read, accessed */
#define GDT_CODE32 0xc09b /* G, D; same access */
#define GDT_DATA 0xc093	  /* G, B; present, data, read/write, accessed */
#define GDT_TSS 0x008b	  /* present, busy TSS (32- or 64-bit alike) */
#define TSS_LIMIT 0x67

#define X86_CR0_PE 0x1ULL
#define X86_CR0_ET 0x10ULL
#define X86_CR0_PG 0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL
#define RFLAGS_FIXED 0x2ULL

_Static_assert(BOOT_GDT + GDT_ENTRIES * 8 <= BOOT_IDT, "the GDT runs into the IDT");
_Static_assert(BOOT_ZERO_PAGE + PAGE_SIZE < BOOT_STACK, "the stack starts inside the zero page");
_Static_assert(BOOT_PML4 + BOOT_PT_PAGES * PAGE_SIZE <= BOOT_CMDLINE,
	       "the page tables run into the command line");
_Static_assert(BOOT_CMDLINE + BOOT_CMDLINE_MAX <= MPTABLE_START,
	       "the command line runs into the MP table");

/* What a kernel loader leaves for the rest of the boot. */
struct loaded_kernel {
	uint64_t entry;
	uint64_t end;	     /* first byte above the kernel: the initrd goes higher */
	uint64_t initrd_end; /* first byte above what the initrd may occupy */
	uint32_t cmdline_max;
	struct bzimage_info bz; /* KERNEL_BZIMAGE only */
};

struct kernel_loader {
	enum kernel_format format;
	const char *name;
	enum boot_cpu_mode mode;
	int (*load)(struct guest_mem *m, const struct boot_config *cfg, struct loaded_kernel *lk,
		    char *err, size_t errlen);
	int (*handoff)(struct guest_mem *m, const struct loaded_kernel *lk,
		       const struct boot_handoff *h);
};

int boot_error(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int load_bzimage(struct guest_mem *m, const struct boot_config *cfg,
			struct loaded_kernel *lk, char *err, size_t errlen)
{
	int ret = bzimage_load(m, cfg->kernel, cfg->kernel_len, &lk->bz, err, errlen);

	if (ret)
		return ret;
	lk->entry = lk->bz.entry;
	lk->end = lk->bz.end;
	lk->initrd_end = lk->bz.initrd_end;
	lk->cmdline_max = MIN(lk->bz.cmdline_max, BOOT_CMDLINE_MAX - 1);
	return 0;
}

static int load_elf(struct guest_mem *m, const struct boot_config *cfg, struct loaded_kernel *lk,
		    char *err, size_t errlen)
{
	struct elf_kernel ek;
	int ret = elf_loader_load(m, cfg->kernel, cfg->kernel_len, &ek, err, errlen);

	if (ret)
		return ret;
	lk->entry = ek.pvh_entry ? ek.pvh_entry : ek.entry;
	lk->end = ek.end;
	lk->initrd_end = UINT64_MAX;
	lk->cmdline_max = BOOT_CMDLINE_MAX - 1;
	return 0;
}

static int handoff_zeropage(struct guest_mem *m, const struct loaded_kernel *lk,
			    const struct boot_handoff *h)
{
	(void)lk;
	return zeropage_write(m, NULL, 0, h);
}

static int handoff_bzimage(struct guest_mem *m, const struct loaded_kernel *lk,
			   const struct boot_handoff *h)
{
	return zeropage_write(m, &lk->bz.hdr, lk->bz.hdr_len, h);
}

static int handoff_pvh(struct guest_mem *m, const struct loaded_kernel *lk,
		       const struct boot_handoff *h)
{
	(void)lk;
	return pvh_write(m, h);
}

static const struct kernel_loader loaders[] = {
    {KERNEL_UNKNOWN, "unknown", BOOT_MODE_LONG64, NULL, NULL},
    {KERNEL_BZIMAGE, "bzImage", BOOT_MODE_LONG64, load_bzimage, handoff_bzimage},
    {KERNEL_ELF_PVH, "ELF vmlinux (PVH entry)", BOOT_MODE_PROTECTED32, load_elf, handoff_pvh},
    {KERNEL_ELF_64, "ELF vmlinux (64-bit entry)", BOOT_MODE_LONG64, load_elf, handoff_zeropage},
};

enum kernel_format boot_detect(const uint8_t *kernel, size_t len)
{
	uint64_t pvh;

	if (!kernel)
		return KERNEL_UNKNOWN;
	if (bzimage_probe(kernel, len))
		return KERNEL_BZIMAGE;
	if (elf_loader_probe(kernel, len))
		return elf_loader_pvh_entry(kernel, len, &pvh) == 0 ? KERNEL_ELF_PVH
								    : KERNEL_ELF_64;
	return KERNEL_UNKNOWN;
}

const char *boot_format_name(enum kernel_format f)
{
	if ((unsigned int)f >= ARRAY_SIZE(loaders))
		return "invalid";
	return loaders[f].name;
}

int boot_e820_build(const struct guest_mem *m, struct e820_entry *e, unsigned int max)
{
	const struct e820_entry map[] = {
	    {0, MPTABLE_START, E820_RAM},
	    /* the MP table, the EBDA and the legacy VGA/ROM hole */
	    {MPTABLE_START, HIMEM_START - MPTABLE_START, E820_RESERVED},
	    {HIMEM_START, m->low_size - HIMEM_START, E820_RAM},
	    {MEM_HOLE_END, m->high_size, E820_RAM},
	};
	unsigned int n = m->high_size ? 4 : 3;

	if (m->low_size <= HIMEM_START)
		return -EINVAL;
	if (n > max)
		return -E2BIG;
	memcpy(e, map, n * sizeof(*e));
	return (int)n;
}

int boot_mptable_write(struct guest_mem *m, unsigned int ncpus)
{
	return mptable_write(m, ncpus);
}

/* Identity map of the first 4 GiB with 2 MiB pages: one PML4, one PDPT, four PDs. */
int boot_pagetables_write(struct guest_mem *m)
{
	uint64_t *pml4 = guest_mem_ptr(m, BOOT_PML4, BOOT_PT_PAGES * PAGE_SIZE);
	uint64_t *pdpt, *pd;
	unsigned int i;

	if (!pml4)
		return -EFAULT;
	pdpt = pml4 + (BOOT_PDPT - BOOT_PML4) / sizeof(*pml4);
	pd = pml4 + (BOOT_PD - BOOT_PML4) / sizeof(*pml4);
	memset(pml4, 0, BOOT_PT_PAGES * PAGE_SIZE);
	pml4[0] = BOOT_PDPT | PTE_PRESENT | PTE_RW;
	for (i = 0; i < BOOT_PD_COUNT; i++)
		pdpt[i] = (BOOT_PD + i * PAGE_SIZE) | PTE_PRESENT | PTE_RW;
	for (i = 0; i < BOOT_PD_COUNT * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
	return 0;
}

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (limit & 0xffff) | ((uint64_t)(limit & 0xf0000) << 32) | ((uint64_t)flags << 40);
}

/* The descriptor as KVM wants it in sregs, so that the vCPU code need not decode it. */
static void gdt_segment(uint64_t d, uint16_t selector, struct boot_segment *s)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->g = (d >> 55) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
	s->selector = selector;
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
}

int boot_gdt_write(struct guest_mem *m, struct boot_entry *entry)
{
	uint64_t *gdt = guest_mem_ptr(m, BOOT_GDT, GDT_ENTRIES * sizeof(uint64_t));
	uint64_t *idt = guest_mem_ptr(m, BOOT_IDT, sizeof(uint64_t));
	uint16_t code = entry->mode == BOOT_MODE_LONG64 ? GDT_CODE64 : GDT_CODE32;

	if (!gdt || !idt)
		return -EFAULT;
	memset(gdt, 0, GDT_ENTRIES * sizeof(*gdt));
	gdt[BOOT_SEL_CODE / 8] = gdt_entry(code, 0, 0xfffff);
	gdt[BOOT_SEL_DATA / 8] = gdt_entry(GDT_DATA, 0, 0xfffff);
	/* the upper half of the 64-bit TSS descriptor (base 63:32) stays zero */
	gdt[BOOT_SEL_TSS / 8] = gdt_entry(GDT_TSS, 0, TSS_LIMIT);
	*idt = 0;
	gdt_segment(gdt[BOOT_SEL_CODE / 8], BOOT_SEL_CODE, &entry->cs);
	gdt_segment(gdt[BOOT_SEL_DATA / 8], BOOT_SEL_DATA, &entry->ds);
	gdt_segment(gdt[BOOT_SEL_TSS / 8], BOOT_SEL_TSS, &entry->tr);
	entry->gdt_base = BOOT_GDT;
	entry->gdt_limit = GDT_ENTRIES * sizeof(*gdt) - 1;
	entry->idt_base = BOOT_IDT;
	entry->idt_limit = sizeof(*idt) - 1;
	return 0;
}

static int write_cmdline(struct guest_mem *m, const char *cmdline, uint32_t max,
			 struct boot_handoff *h, char *err, size_t errlen)
{
	size_t len = cmdline ? strlen(cmdline) : 0;
	char *dst;

	if (len > max)
		return boot_error(err, errlen, -E2BIG,
				  "kernel command line of %zu bytes is longer than the %u allowed",
				  len, max);
	dst = guest_mem_ptr(m, BOOT_CMDLINE, len + 1);
	if (!dst)
		return boot_error(err, errlen, -EFAULT, "no RAM for the kernel command line");
	memcpy(dst, cmdline ? cmdline : "", len + 1);
	h->cmdline_addr = BOOT_CMDLINE;
	h->cmdline_len = (uint32_t)len;
	return 0;
}

static unsigned long long mib_up(uint64_t bytes)
{
	return (unsigned long long)((bytes + MIB(1) - 1) >> 20);
}

/* As high as the kernel allows below the PCI hole, page aligned, above the kernel. */
static int place_initrd(struct guest_mem *m, const struct boot_config *cfg,
			const struct loaded_kernel *lk, struct boot_handoff *h, char *err,
			size_t errlen)
{
	uint64_t len = cfg->initrd_len, limit = MIN(m->low_size, lk->initrd_end), addr;
	void *dst;

	if (!len)
		return 0;
	if (len > m->low_size)
		return boot_error(err, errlen, -E2BIG,
				  "initrd of %llu MiB does not fit in %llu MiB of RAM", mib_up(len),
				  (unsigned long long)(m->low_size >> 20));
	addr = len <= limit ? ALIGN_DOWN(limit - len, PAGE_SIZE) : 0;
	dst = guest_mem_ptr(m, addr, len);
	if (len > limit || addr < lk->end || !dst)
		return boot_error(err, errlen, -E2BIG,
				  "initrd of %llu MiB does not fit between the kernel's end at "
				  "%llu MiB and %llu MiB",
				  mib_up(len), mib_up(lk->end), (unsigned long long)(limit >> 20));
	memcpy(dst, cfg->initrd, len);
	h->initrd_addr = addr;
	h->initrd_len = len;
	return 0;
}

static int check_config(const struct guest_mem *m, const struct boot_config *cfg, char *err,
			size_t errlen)
{
	if (!cfg->kernel || !cfg->kernel_len)
		return boot_error(err, errlen, -EINVAL, "the kernel image is empty");
	if (cfg->initrd_len && !cfg->initrd)
		return boot_error(err, errlen, -EINVAL, "initrd length without an initrd");
	if (cfg->ncpus == 0 || cfg->ncpus > BOOT_MAX_CPUS)
		return boot_error(err, errlen, -EINVAL,
				  "%u vCPUs: the boot tables describe 1 to %u", cfg->ncpus,
				  BOOT_MAX_CPUS);
	if (m->low_size < 2 * HIMEM_START)
		return boot_error(err, errlen, -E2BIG, "%llu KiB of RAM is too little to boot",
				  (unsigned long long)(m->low_size >> 10));
	return 0;
}

static void set_registers(struct boot_entry *e, uint64_t rip)
{
	e->rip = rip;
	e->rsp = BOOT_STACK;
	e->rflags = RFLAGS_FIXED;
	if (e->mode == BOOT_MODE_LONG64) {
		e->rsi = BOOT_ZERO_PAGE;
		e->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
		e->cr3 = BOOT_PML4;
		e->cr4 = X86_CR4_PAE;
		e->efer = EFER_LME | EFER_LMA;
	} else {
		/* PVH: "cr0: bit 0 (PE) must be set. All the other writeable bits are cleared." */
		e->rbx = BOOT_PVH_INFO;
		e->cr0 = X86_CR0_PE;
	}
}

/* Command line, initrd, e820 map and MP table: what every format hands over. */
static int build_handoff(struct guest_mem *m, const struct boot_config *cfg,
			 const struct loaded_kernel *lk, struct boot_handoff *h, char *err,
			 size_t errlen)
{
	int ret;

	ret = write_cmdline(m, cfg->cmdline, lk->cmdline_max, h, err, errlen);
	if (ret)
		return ret;
	ret = place_initrd(m, cfg, lk, h, err, errlen);
	if (ret)
		return ret;
	ret = boot_e820_build(m, h->e820, BOOT_E820_MAX);
	if (ret < 0)
		return boot_error(err, errlen, ret, "cannot build the e820 map");
	h->ne820 = (unsigned int)ret;
	ret = boot_mptable_write(m, cfg->ncpus);
	if (ret)
		return boot_error(err, errlen, ret, "cannot write the MP table");
	return 0;
}

int boot_load(struct guest_mem *m, const struct boot_config *cfg, struct boot_entry *entry,
	      char *err, size_t errlen)
{
	struct boot_handoff h = {0};
	struct loaded_kernel lk = {0};
	const struct kernel_loader *l;
	int ret;

	ret = check_config(m, cfg, err, errlen);
	if (ret)
		return ret;
	l = &loaders[boot_detect(cfg->kernel, cfg->kernel_len)];
	if (!l->load)
		return boot_error(err, errlen, -EINVAL,
				  "not a Linux kernel: neither a bzImage nor an ELF vmlinux");
	ret = l->load(m, cfg, &lk, err, errlen);
	if (ret)
		return ret;
	ret = build_handoff(m, cfg, &lk, &h, err, errlen);
	if (ret)
		return ret;
	ret = l->handoff(m, &lk, &h);
	if (ret)
		return boot_error(err, errlen, ret, "cannot write the %s boot information",
				  l->name);
	memset(entry, 0, sizeof(*entry));
	entry->mode = l->mode;
	ret = boot_gdt_write(m, entry);
	if (!ret && entry->mode == BOOT_MODE_LONG64)
		ret = boot_pagetables_write(m);
	if (ret)
		return boot_error(err, errlen, ret, "cannot write the GDT or page tables");
	set_registers(entry, lk.entry);
	return 0;
}
