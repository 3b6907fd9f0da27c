/* boot: format detection, e820, page tables, GDT, zero page, PVH start info, boot_load errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "kernel_fixtures.h"
#include "layout.h"
#include "memory.h"
#include "util.h"

#define MEM_SIZE (64ULL << 20)
#define INITRD_LEN (1ULL << 20)
#define CMDLINE "console=ttyS0 reboot=k panic=1"

static char err[256];

TestSuite(boot);

static uint8_t *mem_new(struct guest_mem *m, uint64_t size)
{
	uint8_t *buf = calloc(1, size);

	cr_assert_not_null(buf);
	guest_mem_wrap(m, buf, size);
	err[0] = 0;
	return buf;
}

static uint8_t *initrd_new(size_t len)
{
	uint8_t *b = malloc(len);
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 13 + 1);
	return b;
}

/* ---- detection ---- */

Test(boot, detects_formats)
{
	struct fake_elf_opts pvh = {.pvh_descsz = 8}, plain = {0};
	uint8_t junk[4096] = {'M', 'Z'};
	size_t len;
	uint8_t *k;

	k = fake_bzimage(&len);
	cr_assert_eq(boot_detect(k, len), KERNEL_BZIMAGE);
	free(k);
	k = fake_elf(&pvh, &len);
	cr_assert_eq(boot_detect(k, len), KERNEL_ELF_PVH);
	free(k);
	k = fake_elf(&plain, &len);
	cr_assert_eq(boot_detect(k, len), KERNEL_ELF_64);
	free(k);
	cr_assert_eq(boot_detect(junk, sizeof(junk)), KERNEL_UNKNOWN);
	cr_assert_eq(boot_detect(junk, 0), KERNEL_UNKNOWN);
	cr_assert_eq(boot_detect(NULL, 0), KERNEL_UNKNOWN);
	cr_assert_str_eq(boot_format_name(KERNEL_BZIMAGE), "bzImage");
	cr_assert_str_eq(boot_format_name((enum kernel_format)42), "invalid");
}

/* ---- e820 ---- */

static void expect_e820(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	cr_assert_eq(e->addr, addr, "addr 0x%llx", (unsigned long long)e->addr);
	cr_assert_eq(e->size, size, "size 0x%llx", (unsigned long long)e->size);
	cr_assert_eq(e->type, type);
}

static int e820_for(uint64_t size, struct e820_entry *e)
{
	struct guest_mem m;

	guest_mem_wrap(&m, NULL, size); /* the builder only looks at the sizes */
	return boot_e820_build(&m, e, BOOT_E820_MAX);
}

static void expect_low(const struct e820_entry *e, uint64_t low_end)
{
	expect_e820(&e[0], 0, MPTABLE_START, E820_RAM);
	expect_e820(&e[1], MPTABLE_START, HIMEM_START - MPTABLE_START, E820_RESERVED);
	expect_e820(&e[2], HIMEM_START, low_end - HIMEM_START, E820_RAM);
}

Test(boot, e820_64mib)
{
	struct e820_entry e[BOOT_E820_MAX];

	cr_assert_eq(e820_for(MIB(64), e), 3);
	expect_low(e, MIB(64));
}

Test(boot, e820_3gib_exactly)
{
	struct e820_entry e[BOOT_E820_MAX];

	cr_assert_eq(e820_for(GIB(3), e), 3);
	expect_low(e, MEM_HOLE_START);
}

Test(boot, e820_4gib_has_high_ram)
{
	struct e820_entry e[BOOT_E820_MAX];

	cr_assert_eq(e820_for(GIB(4), e), 4);
	expect_low(e, MEM_HOLE_START);
	expect_e820(&e[3], MEM_HOLE_END, GIB(1), E820_RAM);
}

Test(boot, e820_8gib_has_high_ram)
{
	struct e820_entry e[BOOT_E820_MAX];

	cr_assert_eq(e820_for(GIB(8), e), 4);
	expect_low(e, MEM_HOLE_START);
	expect_e820(&e[3], MEM_HOLE_END, GIB(5), E820_RAM);
}

Test(boot, e820_errors)
{
	struct e820_entry e[BOOT_E820_MAX];
	struct guest_mem m;

	guest_mem_wrap(&m, NULL, GIB(8));
	cr_assert_eq(boot_e820_build(&m, e, 3), -E2BIG);
	cr_assert_eq(e820_for(KIB(512), e), -EINVAL);
}

/* ---- page tables and GDT ---- */

/* Walks PML4 -> PDPT -> PD for va; returns the PD entry. */
static uint64_t walk(const uint8_t *mem, uint64_t cr3, uint64_t va)
{
	uint64_t pml4e = get64(mem, cr3 + ((va >> 39) & 511) * 8);
	uint64_t pdpte, pde;

	cr_assert(pml4e & 1, "PML4 entry for 0x%llx not present", (unsigned long long)va);
	pdpte = get64(mem, (pml4e & ~0xfffULL) + ((va >> 30) & 511) * 8);
	cr_assert(pdpte & 1);
	cr_assert_eq(pdpte & 0x80, 0, "no 1 GiB pages");
	pde = get64(mem, (pdpte & ~0xfffULL) + ((va >> 21) & 511) * 8);
	return pde;
}

Test(boot, pagetables_identity_map_4gib_with_2mib_pages)
{
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE);
	uint64_t va;

	memset(mem + BOOT_PML4, 0xee, 6 * 4096); /* stale junk must go */
	cr_assert_eq(boot_pagetables_write(&m), 0);
	for (va = 0; va < GIB(4); va += MIB(2)) {
		uint64_t pde = walk(mem, BOOT_PML4, va + 0x1234);

		cr_assert_eq(pde & 0x83, 0x83, "present, writable, 2 MiB");
		cr_assert_eq(pde & ~0x1fffffULL, va, "0x%llx maps 0x%llx", (unsigned long long)va,
			     (unsigned long long)(pde & ~0x1fffffULL));
	}
	cr_assert_eq(get64(mem, BOOT_PML4 + 8), 0, "nothing above 512 GiB");
	cr_assert_eq(get64(mem, BOOT_PML4 + 0x1000 + 4 * 8), 0, "nothing above 4 GiB");
	free(mem);
}

Test(boot, gdt_long_mode)
{
	struct boot_entry e = {.mode = BOOT_MODE_LONG64};
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE);

	cr_assert_eq(boot_gdt_write(&m, &e), 0);
	cr_assert_eq(get64(mem, BOOT_GDT), 0);
	cr_assert_eq(get64(mem, BOOT_GDT + 0x10), 0x00af9b000000ffffULL);
	cr_assert_eq(get64(mem, BOOT_GDT + 0x18), 0x00cf93000000ffffULL);
	cr_assert_eq(get64(mem, BOOT_GDT + 0x20), 0x00008b0000000067ULL);
	cr_assert_eq(get64(mem, BOOT_GDT + 0x28), 0);
	cr_assert_eq(e.gdt_base, BOOT_GDT);
	cr_assert_eq(e.gdt_limit, 47);
	cr_assert_eq(e.idt_base, BOOT_IDT);
	cr_assert_eq(e.idt_limit, 7);
	cr_assert_eq(e.cs.selector, 0x10);
	cr_assert(e.cs.l && !e.cs.db && e.cs.g && e.cs.present && e.cs.s);
	cr_assert_eq(e.cs.type, 0xb);
	cr_assert_eq(e.cs.limit, 0xffffffff);
	cr_assert_eq(e.ds.selector, 0x18);
	cr_assert(e.ds.db && !e.ds.l);
	cr_assert_eq(e.ds.type, 0x3);
	cr_assert_eq(e.tr.selector, 0x20);
	cr_assert_eq(e.tr.type, 11);
	cr_assert_eq(e.tr.s, 0);
	cr_assert_eq(e.tr.limit, 0x67);
	free(mem);
}

Test(boot, gdt_protected_mode)
{
	struct boot_entry e = {.mode = BOOT_MODE_PROTECTED32};
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE);

	cr_assert_eq(boot_gdt_write(&m, &e), 0);
	cr_assert_eq(get64(mem, BOOT_GDT + 0x10), 0x00cf9b000000ffffULL);
	cr_assert(!e.cs.l && e.cs.db);
	cr_assert_eq(e.cs.base, 0);
	cr_assert_eq(e.cs.limit, 0xffffffff);
	free(mem);
}

/* ---- boot_load ---- */

static void expect_zeropage_e820(const uint8_t *mem, const struct guest_mem *m)
{
	const uint8_t *zp = mem + BOOT_ZERO_PAGE;
	struct e820_entry e[BOOT_E820_MAX];
	int i, n = boot_e820_build(m, e, BOOT_E820_MAX);

	cr_assert_eq(zp[0x1e8], n);
	for (i = 0; i < n; i++) {
		cr_assert_eq(get64(zp, 0x2d0 + i * 20), e[i].addr);
		cr_assert_eq(get64(zp, 0x2d0 + i * 20 + 8), e[i].size);
		cr_assert_eq(get32(zp, 0x2d0 + i * 20 + 16), e[i].type);
	}
}

static int load(struct guest_mem *m, const uint8_t *k, size_t klen, const uint8_t *initrd,
		size_t ilen, const char *cmdline, struct boot_entry *e)
{
	struct boot_config cfg = {
	    .kernel = k,
	    .kernel_len = klen,
	    .initrd = initrd,
	    .initrd_len = ilen,
	    .cmdline = cmdline,
	    .ncpus = 2,
	};

	return boot_load(m, &cfg, e, err, sizeof(err));
}

Test(boot, bzimage_zero_page)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *initrd = initrd_new(INITRD_LEN), *k, *zp;
	size_t klen;
	uint32_t rd;

	k = fake_bzimage(&klen);
	put32(k, 0x22c, MIB(48) - 1); /* initrd_addr_max below the end of RAM */
	cr_assert_eq(load(&m, k, klen, initrd, INITRD_LEN, CMDLINE, &e), 0, "%s", err);
	zp = mem + BOOT_ZERO_PAGE;
	cr_assert(!memcmp(zp + 0x202, "HdrS", 4));
	cr_assert_eq(get16(zp, 0x206), 0x020f, "the setup header is copied");
	cr_assert_eq(zp[0x210], 0xff, "type_of_loader");
	cr_assert_eq(get32(zp, 0x214), FAKE_BZ_PREF, "code32_start");
	cr_assert_eq(get32(zp, 0x228), BOOT_CMDLINE);
	cr_assert_str_eq((char *)mem + BOOT_CMDLINE, CMDLINE);
	rd = get32(zp, 0x218);
	cr_assert_eq(get32(zp, 0x21c), INITRD_LEN);
	cr_assert_eq(rd % 4096, 0);
	cr_assert_leq(rd + INITRD_LEN, MIB(48), "under initrd_addr_max");
	cr_assert_geq(rd, FAKE_BZ_PREF + FAKE_BZ_INIT_SIZE, "above the kernel");
	cr_assert(!memcmp(mem + rd, initrd, INITRD_LEN));
	expect_zeropage_e820(mem, &m);
	cr_assert_eq(e.mode, BOOT_MODE_LONG64);
	cr_assert_eq(e.rip, FAKE_BZ_PREF + 0x200);
	cr_assert_eq(e.rsi, BOOT_ZERO_PAGE);
	cr_assert_eq(e.rsp, BOOT_STACK);
	cr_assert_eq(e.cr3, BOOT_PML4);
	cr_assert_eq(e.cr0, 0x80000011);
	cr_assert_eq(e.cr4, 0x20);
	cr_assert_eq(e.efer, 0x500);
	cr_assert_eq(e.rflags, 2);
	cr_assert_eq(walk(mem, e.cr3, e.rip) & ~0x1fffffULL, e.rip & ~0x1fffffULL);
	free(k);
	free(initrd);
	free(mem);
}

Test(boot, initrd_goes_to_top_of_ram)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *initrd = initrd_new(INITRD_LEN + 100), *k;
	size_t klen;

	k = fake_bzimage(&klen);
	cr_assert_eq(load(&m, k, klen, initrd, INITRD_LEN + 100, "", &e), 0, "%s", err);
	cr_assert_eq(get32(mem + BOOT_ZERO_PAGE, 0x218), MEM_SIZE - INITRD_LEN - 4096);
	cr_assert_eq(get32(mem + BOOT_ZERO_PAGE, 0xc0), 0, "ext_ramdisk_image: below 4 GiB");
	free(k);
	free(initrd);
	free(mem);
}

Test(boot, elf64_zero_page)
{
	struct fake_elf_opts o = {0};
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *k, *zp;
	size_t klen;

	k = fake_elf(&o, &klen);
	cr_assert_eq(load(&m, k, klen, NULL, 0, CMDLINE, &e), 0, "%s", err);
	zp = mem + BOOT_ZERO_PAGE;
	cr_assert_eq(get16(zp, 0x1fe), 0xaa55);
	cr_assert(!memcmp(zp + 0x202, "HdrS", 4));
	cr_assert_eq(zp[0x210], 0xff);
	cr_assert_eq(get32(zp, 0x228), BOOT_CMDLINE);
	cr_assert_eq(get32(zp, 0x218), 0);
	cr_assert_eq(get32(zp, 0x21c), 0);
	expect_zeropage_e820(mem, &m);
	cr_assert_eq(e.mode, BOOT_MODE_LONG64);
	cr_assert_eq(e.rip, FAKE_ELF_PADDR);
	cr_assert_eq(e.rsi, BOOT_ZERO_PAGE);
	free(k);
	free(mem);
}

Test(boot, pvh_start_info)
{
	struct fake_elf_opts o = {.pvh_descsz = 8};
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *initrd = initrd_new(INITRD_LEN), *k, *si, *mod;
	struct e820_entry e820[BOOT_E820_MAX];
	int i, n = boot_e820_build(&m, e820, BOOT_E820_MAX);
	size_t klen;

	k = fake_elf(&o, &klen);
	cr_assert_eq(load(&m, k, klen, initrd, INITRD_LEN, CMDLINE, &e), 0, "%s", err);
	si = mem + BOOT_PVH_INFO;
	cr_assert_eq(get32(si, 0), 0x336ec578);
	cr_assert_eq(get32(si, 4), 1);
	cr_assert_eq(get32(si, 12), 1, "nr_modules");
	cr_assert_eq(get64(si, 24), BOOT_CMDLINE);
	cr_assert_str_eq((char *)mem + get64(si, 24), CMDLINE);
	mod = mem + get64(si, 16);
	cr_assert_eq(get64(mod, 8), INITRD_LEN);
	cr_assert_eq(get64(mod, 0) % 4096, 0);
	cr_assert(!memcmp(mem + get64(mod, 0), initrd, INITRD_LEN));
	cr_assert_eq(get64(si, 40), BOOT_PVH_MEMMAP);
	cr_assert_eq(get32(si, 48), n);
	for (i = 0; i < n; i++) {
		cr_assert_eq(get64(mem, BOOT_PVH_MEMMAP + i * 24), e820[i].addr);
		cr_assert_eq(get64(mem, BOOT_PVH_MEMMAP + i * 24 + 8), e820[i].size);
		cr_assert_eq(get32(mem, BOOT_PVH_MEMMAP + i * 24 + 16), e820[i].type);
	}
	cr_assert_eq(e.mode, BOOT_MODE_PROTECTED32);
	cr_assert_eq(e.rip, FAKE_ELF_PVH_ENTRY);
	cr_assert_eq(e.rbx, BOOT_PVH_INFO);
	cr_assert_eq(e.cr0, 1);
	cr_assert_eq(e.cr3, 0);
	cr_assert_eq(e.cr4, 0);
	cr_assert_eq(e.efer, 0);
	cr_assert(e.cs.db && !e.cs.l);
	free(k);
	free(initrd);
	free(mem);
}

Test(boot, pvh_without_initrd_has_no_modules)
{
	struct fake_elf_opts o = {.pvh_descsz = 4};
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *k;
	size_t klen;

	k = fake_elf(&o, &klen);
	cr_assert_eq(load(&m, k, klen, NULL, 0, NULL, &e), 0, "%s", err);
	cr_assert_eq(get32(mem + BOOT_PVH_INFO, 12), 0);
	cr_assert_eq(get64(mem + BOOT_PVH_INFO, 16), 0);
	cr_assert_str_eq((char *)mem + BOOT_CMDLINE, "");
	free(k);
	free(mem);
}

/* ---- boot_load errors: one line, the right code ---- */

Test(boot, unknown_format)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), junk[8192];

	memset(junk, 0x90, sizeof(junk));
	cr_assert_eq(load(&m, junk, sizeof(junk), NULL, 0, "", &e), -EINVAL);
	cr_assert_str_eq(err, "not a Linux kernel: neither a bzImage nor an ELF vmlinux");
	free(mem);
}

Test(boot, truncated_bzimage)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *k;
	size_t klen;

	k = fake_bzimage(&klen);
	cr_assert_eq(load(&m, k, klen / 2, NULL, 0, "", &e), -EINVAL);
	cr_assert(strstr(err, "truncated bzImage"), "%s", err);
	cr_assert_null(strchr(err, '\n'));
	free(k);
	free(mem);
}

Test(boot, cmdline_longer_than_header_allows)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *k;
	size_t klen;

	k = fake_bzimage(&klen);
	put32(k, 0x238, 8);
	cr_assert_eq(load(&m, k, klen, NULL, 0, "12345678", &e), 0, "%s", err);
	cr_assert_eq(load(&m, k, klen, NULL, 0, "123456789", &e), -E2BIG);
	cr_assert_str_eq(err, "kernel command line of 9 bytes is longer than the 8 allowed");
	free(k);
	free(mem);
}

Test(boot, cmdline_longer_than_buffer)
{
	struct fake_elf_opts o = {0};
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *k;
	char *cmdline = malloc(BOOT_CMDLINE_MAX + 1);
	size_t klen;

	memset(cmdline, 'x', BOOT_CMDLINE_MAX);
	cmdline[BOOT_CMDLINE_MAX] = 0;
	k = fake_elf(&o, &klen);
	cr_assert_eq(load(&m, k, klen, NULL, 0, cmdline, &e), -E2BIG);
	cr_assert(strstr(err, "command line"), "%s", err);
	cmdline[BOOT_CMDLINE_MAX - 1] = 0;
	cr_assert_eq(load(&m, k, klen, NULL, 0, cmdline, &e), 0, "%s", err);
	free(cmdline);
	free(k);
	free(mem);
}

Test(boot, initrd_bigger_than_ram)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *k;
	size_t klen;

	k = fake_bzimage(&klen);
	/* never read: the size check comes first */
	cr_assert_eq(load(&m, k, klen, k, MIB(100), "", &e), -E2BIG);
	cr_assert_str_eq(err, "initrd of 100 MiB does not fit in 64 MiB of RAM");
	free(k);
	free(mem);
}

Test(boot, initrd_no_room_above_kernel)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *k, *initrd = initrd_new(MIB(50));
	size_t klen;

	k = fake_bzimage(&klen);
	cr_assert_eq(load(&m, k, klen, initrd, MIB(50), "", &e), -E2BIG);
	cr_assert(strstr(err, "does not fit between the kernel's end at 24 MiB and 64 MiB"), "%s",
		  err);
	free(k);
	free(initrd);
	free(mem);
}

Test(boot, bad_config)
{
	struct boot_config cfg = {.kernel = NULL, .ncpus = 1};
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), *k;
	size_t klen;

	cr_assert_eq(boot_load(&m, &cfg, &e, err, sizeof(err)), -EINVAL);
	k = fake_bzimage(&klen);
	cfg.kernel = k;
	cfg.kernel_len = klen;
	cfg.ncpus = 0;
	cr_assert_eq(boot_load(&m, &cfg, &e, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "vCPUs"), "%s", err);
	cfg.ncpus = 256;
	cr_assert_eq(boot_load(&m, &cfg, &e, err, sizeof(err)), -EINVAL);
	cfg.ncpus = 255;
	cr_assert_eq(boot_load(&m, &cfg, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(boot_load(&m, &cfg, &e, NULL, 0), 0, "no err buffer is fine");
	free(k);
	free(mem);
}

Test(boot, error_without_buffer)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE), junk[64] = {0};
	struct boot_config cfg = {.kernel = junk, .kernel_len = sizeof(junk), .ncpus = 1};

	cr_assert_eq(boot_load(&m, &cfg, &e, NULL, 0), -EINVAL);
	free(mem);
}

/* ---- the real test guest, when tests/guest/build.sh has produced it ---- */

static uint8_t *read_guest(const char *name, size_t *len)
{
	char path[512];
	uint8_t *buf;

	snprintf(path, sizeof(path), "%s/%s", GUEST_DIR, name);
	if (read_file(path, &buf, len))
		return NULL;
	return buf;
}

static void boot_real(const char *name, enum kernel_format want, enum boot_cpu_mode mode)
{
	struct boot_entry e;
	struct guest_mem m;
	uint8_t *mem, *k;
	size_t klen;

	k = read_guest(name, &klen);
	if (!k)
		cr_skip_test("%s/%s not built yet (cmake --build . --target guest)", GUEST_DIR, name);
	cr_assert_eq(boot_detect(k, klen), want, "%s detected as %s", name,
		     boot_format_name(boot_detect(k, klen)));
	mem = mem_new(&m, MIB(256));
	cr_assert_eq(load(&m, k, klen, NULL, 0, CMDLINE, &e), 0, "%s", err);
	cr_assert_eq(e.mode, mode);
	cr_assert_geq(e.rip, HIMEM_START);
	free(k);
	free(mem);
}

Test(boot, real_vmlinux_is_pvh)
{
	boot_real("vmlinux", KERNEL_ELF_PVH, BOOT_MODE_PROTECTED32);
}

Test(boot, real_bzimage)
{
	boot_real("bzImage", KERNEL_BZIMAGE, BOOT_MODE_LONG64);
}
