#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "pcie_port.h"

#define PORT_SLOT 3 /* the port at 00:03.0 */
#define BUS 1	    /* its secondary bus */
#define SLOT_NUMBER 5
#define WINDOW 0xc0100000ull
#define MIB 0x100000ull

/*
 * The register layout as Linux's pci_regs.h names it, written out here on purpose rather
 * than shared with pcie_port.c: the test checks the port against the spec, not against itself.
 */
#define EXP_FLAGS 0x02
#define EXP_LNKCAP 0x0c
#define EXP_LNKCTL 0x10
#define EXP_LNKSTA 0x12
#define EXP_SLTCAP 0x14
#define EXP_SLTCTL 0x18
#define EXP_SLTSTA 0x1a

#define SLTCAP_ABP 0x0001
#define SLTCAP_PCP 0x0002
#define SLTCAP_MRLSP 0x0004
#define SLTCAP_AIP 0x0008
#define SLTCAP_PIP 0x0010
#define SLTCAP_HPS 0x0020
#define SLTCAP_HPC 0x0040
#define SLTCAP_EIP 0x20000
#define SLTCAP_NCCS 0x40000

#define SLTCTL_ABPE 0x0001
#define SLTCTL_PDCE 0x0008
#define SLTCTL_CCIE 0x0010
#define SLTCTL_HPIE 0x0020
#define SLTCTL_PIC 0x0300
#define SLTCTL_PWR_IND_BLINK 0x0200
#define SLTCTL_PCC 0x0400
#define SLTCTL_DLLSCE 0x1000
#define LINUX_NOTIFY (SLTCTL_DLLSCE | SLTCTL_ABPE | SLTCTL_HPIE | SLTCTL_CCIE)

#define SLTSTA_ABP 0x0001
#define SLTSTA_PFD 0x0002
#define SLTSTA_PDC 0x0008
#define SLTSTA_CC 0x0010
#define SLTSTA_PDS 0x0040
#define SLTSTA_DLLSC 0x0100
#define SLTSTA_EVENTS 0x011f

#define LNKSTA_LT 0x0800
#define LNKSTA_NLW 0x03f0
#define LNKSTA_DLLLA 0x2000

#define MSI_ADDR 0xfee01000u
#define MSI_DATA 0x4041u

static struct pci_root root;
static struct pcie_port port;
static struct pci_device card;
static unsigned int msis, powers;
static uint64_t msi_addr;
static uint32_t msi_data;
static bool power_on;
static uint32_t exp_cap, msi_cap;

static void on_msi(void *ctx, uint64_t addr, uint32_t data)
{
	(void)ctx;
	msis++;
	msi_addr = addr;
	msi_data = data;
}

static void on_power(void *ctx, bool on)
{
	(void)ctx;
	powers++;
	power_on = on;
}

static void on_stop(void *ctx, enum vm_stop_reason why)
{
	(void)ctx;
	(void)why;
}

static unsigned int indicators;
static bool dark = true; /* the power indicator is off */

static void on_indicator(void *ctx, bool off)
{
	(void)ctx;
	indicators++;
	dark = off;
}

static const struct pcie_port_ops ops = {
    .msi = on_msi, .power = on_power, .indicator = on_indicator};

static struct pcie_port_config config(void)
{
	return (struct pcie_port_config){
		.secondary_bus = BUS,
		.slot_number = SLOT_NUMBER,
		.mem_base = WINDOW,
		.mem_size = MIB,
	};
}

/* Config mechanism #1, as the guest drives it. */
static void out(uint64_t off, uint32_t len, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	pci_root_ops.write(&root, off, b, len);
}

static uint32_t in(uint64_t off, uint32_t len)
{
	uint8_t b[4] = {0};
	pci_root_ops.read(&root, off, b, len);
	return b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32_t)b[3] << 24);
}

static uint32_t address(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static uint32_t rd(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg, uint32_t len)
{
	out(0, 4, address(bus, dev, fn, reg));
	return in(4 + (reg & 3), len);
}

static void wr(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg, uint32_t len, uint32_t v)
{
	out(0, 4, address(bus, dev, fn, reg));
	out(4 + (reg & 3), len, v);
}

/* The port's own registers. */
static uint32_t prd(uint32_t reg, uint32_t len)
{
	return rd(0, PORT_SLOT, 0, reg, len);
}

static void pwr(uint32_t reg, uint32_t len, uint32_t v)
{
	wr(0, PORT_SLOT, 0, reg, len, v);
}

static uint32_t find_cap(uint8_t id)
{
	for (uint32_t off = prd(0x34, 1), n = 0; off && n < 48; off = prd(off + 1, 1), n++)
		if (prd(off, 1) == id)
			return off;
	return 0;
}

static uint32_t sltsta(void)
{
	return prd(exp_cap + EXP_SLTSTA, 2);
}

static uint32_t sltctl(void)
{
	return prd(exp_cap + EXP_SLTCTL, 2);
}

/* pcie_write_cmd(): read-modify-write of Slot Control. */
static void slot_cmd(uint32_t cmd, uint32_t mask)
{
	pwr(exp_cap + EXP_SLTCTL, 2, (sltctl() & ~mask) | (cmd & mask));
}

static void power_slot(bool on)
{
	slot_cmd(on ? 0 : SLTCTL_PCC, SLTCTL_PCC);
}

/* What portdrv and pciehp's probe do: bus master, MSI, clear events, enable notification. */
static void linux_probe(void)
{
	pwr(0x04, 2, prd(0x04, 2) | 0x0006);
	pwr(msi_cap + 0x04, 4, MSI_ADDR);
	pwr(msi_cap + 0x08, 4, 0);
	pwr(msi_cap + 0x0c, 2, MSI_DATA);
	pwr(msi_cap + 0x02, 2, prd(msi_cap + 0x02, 2) | 1);
	pwr(exp_cap + EXP_SLTSTA, 2, SLTSTA_EVENTS);
	slot_cmd(LINUX_NOTIFY, LINUX_NOTIFY | SLTCTL_PDCE);
}

/* pciehp_isr() in MSI mode: clear what it read until nothing is left; returns the events. */
static uint32_t linux_isr(void)
{
	uint32_t events = 0, s;

	while ((s = sltsta() & (SLTSTA_ABP | SLTSTA_PFD | SLTSTA_PDC | SLTSTA_CC |
				SLTSTA_DLLSC)) != 0) {
		pwr(exp_cap + EXP_SLTSTA, 2, s);
		events |= s;
	}
	return events;
}

static void setup(void)
{
	struct pcie_port_config c = config();

	msis = powers = indicators = 0;
	dark = true;
	power_on = false;
	pci_root_init(&root, (struct vm_stopper){.stop = on_stop});
	cr_assert_eq(pcie_port_init(&port, &root, &c, &ops, NULL), 0);
	cr_assert_eq(pci_root_add(&root, PORT_SLOT, &port.pci), 0);
	memset(&card, 0, sizeof(card));
	pci_cfg_set16(&card, PCI_VENDOR_ID, 0x1af4);
	pci_cfg_set16(&card, PCI_DEVICE_ID, 0x1041);
	card.wmask[PCI_COMMAND] = 0x06;
	exp_cap = find_cap(0x10);
	msi_cap = find_cap(0x05);
}

static void teardown(void)
{
	pci_root_destroy(&root);
}

/* A timeout: a Slot Status bit that does not clear would keep linux_isr() looping. */
TestSuite(pcie_port, .init = setup, .fini = teardown, .timeout = 10);

Test(pcie_port, header_as_linux_reads_it)
{
	cr_assert_eq(prd(0x00, 4), 0x000c1b36);
	cr_assert_eq(prd(0x0a, 2), 0x0604, "class: PCI-to-PCI bridge");
	cr_assert_eq(prd(0x0e, 1), 0x01, "header type 1, single function");
	cr_assert(prd(0x06, 2) & 0x0010, "capability list");
	cr_assert_eq(prd(0x3d, 1), 0, "no INTx pin: MSI only");
	cr_assert_eq(prd(0x18, 4) & 0xffffff, BUS << 16 | BUS << 8,
		     "primary 0, secondary, subordinate");
	cr_assert_eq(prd(0x10, 4), 0, "no BARs");
	cr_assert_eq(prd(0x14, 4), 0);
}

Test(pcie_port, capability_chain_and_slot_capabilities)
{
	uint32_t sltcap, lnkcap;

	cr_assert_neq(exp_cap, 0);
	cr_assert_neq(msi_cap, 0);
	cr_assert_eq(prd(0x34, 1), exp_cap, "PCI Express first");
	cr_assert_eq(prd(exp_cap + 1, 1), msi_cap, "then MSI");
	cr_assert_eq(prd(msi_cap + 1, 1), 0, "end of the chain");
	cr_assert_eq(prd(exp_cap + EXP_FLAGS, 2), 0x0142, "v2, Root Port, Slot Implemented");
	cr_assert_eq(prd(msi_cap + 2, 2), 0x0180, "64-bit, per-vector mask, one vector, off");

	sltcap = prd(exp_cap + EXP_SLTCAP, 4);
	cr_assert_eq(sltcap & (SLTCAP_ABP | SLTCAP_PCP | SLTCAP_AIP | SLTCAP_PIP | SLTCAP_HPC |
			       SLTCAP_NCCS),
		     SLTCAP_ABP | SLTCAP_PCP | SLTCAP_AIP | SLTCAP_PIP | SLTCAP_HPC | SLTCAP_NCCS);
	cr_assert_eq(sltcap & (SLTCAP_MRLSP | SLTCAP_EIP | SLTCAP_HPS), 0);
	cr_assert_eq(sltcap >> 19, SLOT_NUMBER, "physical slot number");

	lnkcap = prd(exp_cap + EXP_LNKCAP, 4);
	cr_assert(lnkcap & (1u << 20), "Data Link Layer Link Active Reporting Capable");
	cr_assert_eq(lnkcap & 0x3ff, 0x011, "2.5 GT/s x1");
	cr_assert_eq(lnkcap & (1u << 21), 0, "no bandwidth notification service");

	cr_assert_eq(sltctl(), 0x07c0, "indicators off, power off");
	cr_assert_eq(sltsta(), 0, "empty, no events");
	cr_assert_eq(prd(exp_cap + EXP_LNKSTA, 2) & LNKSTA_DLLLA, 0, "link down");
}

Test(pcie_port, window_registers)
{
	uint64_t base, size;

	cr_assert_eq(prd(0x20, 2), 0xc010, "memory base");
	cr_assert_eq(prd(0x22, 2), 0xc010, "memory limit: one MiB");
	pcie_port_window(&port, &base, &size);
	cr_assert_eq(base, WINDOW);
	cr_assert_eq(size, MIB);
	pwr(0x20, 4, 0xc0f0c0a0);
	cr_assert_eq(prd(0x20, 4), 0xc010c010, "fixed, like the BARs behind it");

	/* Linux's pci_read_bridge_windows(): probing with writes finds no I/O, no prefetch. */
	pwr(0x1c, 2, 0xe0f0);
	cr_assert_eq(prd(0x1c, 2), 0, "no I/O window");
	pwr(0x24, 2, 0xfff0);
	cr_assert_eq(prd(0x24, 4), 0, "no prefetchable window");
	pwr(0x28, 4, 0xffffffff);
	cr_assert_eq(prd(0x28, 4), 0);
}

Test(pcie_port, larger_window)
{
	struct pcie_port p2;
	struct pcie_port_config c = config();
	uint64_t base, size;

	c.mem_size = 4 * MIB;
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &ops, NULL), 0);
	cr_assert_eq(pci_cfg_read(&p2.pci, 0x20, 4), 0xc040c010);
	pcie_port_window(&p2, &base, &size);
	cr_assert_eq(base, WINDOW);
	cr_assert_eq(size, 4 * MIB);
}

Test(pcie_port, init_rejects_bad_config)
{
	struct pcie_port p2;
	struct pcie_port_config c;
	const struct pcie_port_ops no_msi = {.power = on_power};

	c = config(), c.secondary_bus = 0;
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &ops, NULL), -EINVAL);
	c = config(), c.mem_base += 0x1000;
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &ops, NULL), -EINVAL);
	c = config(), c.mem_size = 0;
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &ops, NULL), -EINVAL);
	c = config(), c.mem_size = MIB + 0x8000;
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &ops, NULL), -EINVAL);
	c = config(), c.mem_base = 0xfff00000, c.mem_size = 2 * MIB;
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &ops, NULL), -EINVAL, "past 4 GiB");
	c = config(), c.slot_number = PCIE_PORT_SLOT_MAX + 1;
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &ops, NULL), -EINVAL);
	c = config();
	cr_assert_eq(pcie_port_init(&p2, &root, &c, NULL, NULL), -EINVAL);
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &no_msi, NULL), -EINVAL);
}

Test(pcie_port, empty_secondary_bus_reads_all_ones)
{
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0xffffffffu);
	cr_assert_eq(rd(BUS + 1, 0, 0, 0, 4), 0xffffffffu, "no bus behind it");
	wr(BUS, 0, 0, 0x04, 2, 0x0006); /* goes nowhere */
	cr_assert_eq(rd(0, 0, 0, 0, 4), 0x00081b36, "bus 0 unchanged");
}

Test(pcie_port, plug_signals_presence_and_link)
{
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(sltsta(), SLTSTA_PDS | SLTSTA_PDC | SLTSTA_DLLSC);
	cr_assert(prd(exp_cap + EXP_LNKSTA, 2) & LNKSTA_DLLLA);
	cr_assert(pcie_port_occupied(&port));
	cr_assert_not(pcie_port_powered(&port));
	cr_assert_eq(msis, 0, "interrupts not enabled");
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0xffffffffu, "no power yet");
	cr_assert_eq(pcie_port_plug(&port, &card), -EBUSY);
}

Test(pcie_port, function_visible_while_occupied_and_powered)
{
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	power_slot(true);
	cr_assert_eq(powers, 1);
	cr_assert(power_on);
	cr_assert(pcie_port_powered(&port));
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0x10411af4);
	cr_assert_eq(rd(BUS, 1, 0, 0, 4), 0xffffffffu, "only device 0 on the link");
	cr_assert_eq(rd(BUS, 0, 1, 0, 4), 0xffffffffu, "single function");
	cr_assert_eq(rd(BUS + 1, 0, 0, 0, 4), 0xffffffffu);
	wr(BUS, 0, 0, 0x04, 2, 0xffff);
	cr_assert_eq(card.cfg[PCI_COMMAND], 0x06, "writes reach the function");
	power_slot(false);
	cr_assert_eq(powers, 2);
	cr_assert_not(power_on);
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0xffffffffu);
}

Test(pcie_port, routing_follows_guest_bus_numbers)
{
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	power_slot(true);
	pwr(0x18, 4, (prd(0x18, 4) & 0xff000000u) | 7 << 16 | 5 << 8);
	cr_assert_eq(prd(0x19, 1), 5);
	cr_assert_eq(prd(0x1a, 1), 7);
	cr_assert_eq(rd(5, 0, 0, 0, 4), 0x10411af4, "renumbered");
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0xffffffffu, "old number gone");
	cr_assert_eq(rd(6, 0, 0, 0, 4), 0xffffffffu, "in range, but nothing behind device 0");
	pwr(0x19, 1, 0);
	cr_assert_eq(rd(5, 0, 0, 0, 4), 0xffffffffu, "secondary 0: routes nothing");
	cr_assert_eq(rd(0, 0, 0, 0, 4), 0x00081b36, "bus 0 still the root's");
	pwr(0x19, 1, 9);
	cr_assert_eq(rd(9, 0, 0, 0, 4), 0xffffffffu, "secondary above subordinate: nothing");
	pwr(0x1a, 1, 9);
	cr_assert_eq(rd(9, 0, 0, 0, 4), 0x10411af4);
}

Test(pcie_port, two_ports_route_by_their_own_ranges)
{
	struct pcie_port p2;
	struct pcie_port_config c = config();
	struct pci_device other = {0};

	c.secondary_bus = BUS + 1;
	c.slot_number = SLOT_NUMBER + 1;
	c.mem_base = WINDOW + MIB;
	cr_assert_eq(pcie_port_init(&p2, &root, &c, &ops, NULL), 0);
	cr_assert_eq(pci_root_add(&root, PORT_SLOT + 1, &p2.pci), 0);
	pci_cfg_set16(&other, PCI_VENDOR_ID, 0x1af4);
	pci_cfg_set16(&other, PCI_DEVICE_ID, 0x1042);
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(pcie_port_plug(&p2, &other), 0);
	power_slot(true);
	wr(0, PORT_SLOT + 1, 0, exp_cap + EXP_SLTCTL, 2, 0x03c0); /* the same layout */
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0x10411af4);
	cr_assert_eq(rd(BUS + 1, 0, 0, 0, 4), 0x10421af4, "past the first port's subordinate");
	/* The first port's range now covers both numbers: it wins, as the lower slot. */
	pwr(0x1a, 1, BUS + 1);
	cr_assert_eq(rd(BUS + 1, 0, 0, 0, 4), 0xffffffffu);
}

Test(pcie_port, slot_control_has_no_command_completed)
{
	linux_probe();
	cr_assert_eq(sltctl(), 0x07c0 | LINUX_NOTIFY);
	pwr(exp_cap + EXP_SLTCTL, 2, 0xffff);
	cr_assert_eq(sltctl(), 0x17fb, "no MRL sensor enable, no interlock control");
	slot_cmd(SLTCTL_PWR_IND_BLINK, SLTCTL_PIC);
	cr_assert_eq(sltctl() & SLTCTL_PIC, SLTCTL_PWR_IND_BLINK);
	cr_assert_eq(sltsta() & SLTSTA_CC, 0, "No Command Completed Support");
	cr_assert_eq(msis, 0);
}

Test(pcie_port, plug_sends_the_programmed_message_once_per_edge)
{
	linux_probe();
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(msis, 1);
	cr_assert_eq(msi_addr, MSI_ADDR);
	cr_assert_eq(msi_data, MSI_DATA);

	/* Another event while DLLSC is still set: the condition stays true, no new message. */
	power_slot(true);
	cr_assert_eq(pcie_port_request_unplug(&port), 0);
	cr_assert_eq(msis, 1);
	cr_assert_eq(linux_isr(), SLTSTA_PDC | SLTSTA_DLLSC | SLTSTA_ABP);
	cr_assert_eq(pcie_port_remove(&port), 0);
	cr_assert_eq(msis, 2, "a new event after all were cleared");
	cr_assert_eq(linux_isr(), SLTSTA_PDC | SLTSTA_DLLSC);
}

Test(pcie_port, msi_address_high_dword)
{
	linux_probe();
	pwr(msi_cap + 0x08, 4, 0x1);
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(msi_addr, 0x100000000ull | MSI_ADDR);
}

Test(pcie_port, no_message_unless_enabled)
{
	linux_probe();
	slot_cmd(0, SLTCTL_HPIE);
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(msis, 0, "Hot-Plug Interrupt Enable off");
	slot_cmd(SLTCTL_HPIE, SLTCTL_HPIE);
	cr_assert_eq(msis, 1, "enabled with an event pending");
	linux_isr();

	slot_cmd(SLTCTL_PDCE, SLTCTL_DLLSCE | SLTCTL_PDCE | SLTCTL_ABPE);
	cr_assert_eq(pcie_port_remove(&port), 0);
	cr_assert_eq(msis, 2, "presence detect alone");
	linux_isr();
	slot_cmd(0, SLTCTL_PDCE);
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(msis, 2, "no enabled event set");
	cr_assert_eq(sltsta() & (SLTSTA_PDC | SLTSTA_DLLSC), SLTSTA_PDC | SLTSTA_DLLSC);
}

Test(pcie_port, no_message_without_msi_enable_or_bus_master)
{
	linux_probe();
	pwr(msi_cap + 2, 2, 0);
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(msis, 0, "MSI disabled");
	linux_isr();
	pwr(msi_cap + 2, 2, 1);
	pwr(0x04, 2, 0x0002);
	cr_assert_eq(pcie_port_remove(&port), 0);
	cr_assert_eq(msis, 0, "bus master off");
	pwr(0x04, 2, 0x0006);
	cr_assert_eq(msis, 1, "bus master on with the event pending");
}

Test(pcie_port, masked_vector_sets_pending_and_sends_on_unmask)
{
	linux_probe();
	pwr(msi_cap + 0x10, 4, 0xffffffff);
	cr_assert_eq(prd(msi_cap + 0x10, 4), 1, "one mask bit");
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(msis, 0);
	cr_assert_eq(prd(msi_cap + 0x14, 4), 1, "pending");
	pwr(msi_cap + 0x14, 4, 0);
	cr_assert_eq(prd(msi_cap + 0x14, 4), 1, "pending bits are read-only");
	pwr(msi_cap + 0x10, 4, 0);
	cr_assert_eq(msis, 1);
	cr_assert_eq(msi_data, MSI_DATA);
	cr_assert_eq(prd(msi_cap + 0x14, 4), 0);

	/* Masked again while the condition holds: nothing new, pending while it holds. */
	pwr(msi_cap + 0x10, 4, 1);
	cr_assert_eq(prd(msi_cap + 0x14, 4), 1);
	linux_isr();
	cr_assert_eq(prd(msi_cap + 0x14, 4), 0, "nothing to send any more");
	pwr(msi_cap + 0x10, 4, 0);
	cr_assert_eq(msis, 1);
}

Test(pcie_port, slot_status_is_rw1c)
{
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	power_slot(true);
	cr_assert_eq(pcie_port_request_unplug(&port), 0);
	cr_assert_eq(sltsta(), SLTSTA_PDS | SLTSTA_PDC | SLTSTA_DLLSC | SLTSTA_ABP);
	pwr(exp_cap + EXP_SLTSTA, 2, 0);
	cr_assert_eq(sltsta(), SLTSTA_PDS | SLTSTA_PDC | SLTSTA_DLLSC | SLTSTA_ABP, "zeros");
	pwr(exp_cap + EXP_SLTSTA, 2, SLTSTA_PDC);
	cr_assert_eq(sltsta(), SLTSTA_PDS | SLTSTA_DLLSC | SLTSTA_ABP);
	pwr(exp_cap + EXP_SLTSTA, 2, SLTSTA_PDS);
	cr_assert_eq(sltsta(), SLTSTA_PDS | SLTSTA_DLLSC | SLTSTA_ABP, "state is read-only");
	/* A dword write over Slot Control and Slot Status: both halves take effect. */
	pwr(exp_cap + EXP_SLTCTL, 4, (uint32_t)(SLTSTA_DLLSC | SLTSTA_ABP) << 16 | sltctl());
	cr_assert_eq(sltsta(), SLTSTA_PDS);
	cr_assert(pcie_port_powered(&port), "slot control unchanged");
}

Test(pcie_port, attention_button_release_then_remove)
{
	linux_probe();
	cr_assert_eq(pcie_port_request_unplug(&port), -ENODEV);
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	cr_assert_eq(pcie_port_request_unplug(&port), -EALREADY, "the guest never powered it");
	linux_isr();
	power_slot(true);
	cr_assert_eq(msis, 1);

	cr_assert_eq(pcie_port_request_unplug(&port), 0);
	cr_assert_eq(msis, 2);
	cr_assert_eq(linux_isr(), SLTSTA_ABP);
	slot_cmd(SLTCTL_PWR_IND_BLINK, SLTCTL_PIC);
	cr_assert_eq(powers, 1, "indicators are not power");
	power_slot(false);
	cr_assert_eq(powers, 2);
	cr_assert_not(power_on, "released");
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0xffffffffu);
	cr_assert(pcie_port_occupied(&port), "until main takes it out");

	cr_assert_eq(pcie_port_remove(&port), 0);
	cr_assert_eq(sltsta(), SLTSTA_PDC | SLTSTA_DLLSC);
	cr_assert_eq(prd(exp_cap + EXP_LNKSTA, 2) & LNKSTA_DLLLA, 0);
	cr_assert_eq(msis, 3);
	cr_assert_not(pcie_port_occupied(&port));
	cr_assert_eq(pcie_port_remove(&port), -ENODEV);
}

Test(pcie_port, surprise_removal_then_plug_again)
{
	struct pci_device other = {0};

	linux_probe();
	cr_assert_eq(pcie_port_plug(&port, &card), 0);
	linux_isr();
	power_slot(true);
	cr_assert_eq(pcie_port_remove(&port), 0);
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0xffffffffu, "gone at once");
	cr_assert_eq(linux_isr(), SLTSTA_PDC | SLTSTA_DLLSC);
	power_slot(false);
	cr_assert_eq(powers, 2);
	cr_assert_not(power_on);

	pci_cfg_set16(&other, PCI_VENDOR_ID, 0x1af4);
	pci_cfg_set16(&other, PCI_DEVICE_ID, 0x1042);
	cr_assert_eq(pcie_port_plug(&port, &other), 0);
	cr_assert_eq(msis, 3);
	linux_isr();
	power_slot(true);
	cr_assert_eq(rd(BUS, 0, 0, 0, 4), 0x10421af4);
}

/* pciehp's board_added() after a link change on an empty, unpowered slot. */
static void linux_enable_slot(void)
{
	uint32_t lnk;

	cr_assert(sltsta() & SLTSTA_PDS, "pciehp_card_present()");
	cr_assert_eq(sltctl() & SLTCTL_PCC, SLTCTL_PCC, "power off: not 'already enabled'");
	power_slot(true);
	pwr(exp_cap + EXP_LNKCTL, 2, prd(exp_cap + EXP_LNKCTL, 2) & ~0x0010u);
	slot_cmd(SLTCTL_PWR_IND_BLINK, SLTCTL_PIC);
	lnk = prd(exp_cap + EXP_LNKSTA, 2);
	cr_assert(lnk & LNKSTA_DLLLA, "pcie_wait_for_link()");
	cr_assert_eq(rd(prd(0x19, 1), 0, 0, 0, 4), 0x10411af4, "pci_bus_check_dev()");
	cr_assert_eq(lnk & LNKSTA_LT, 0, "not training");
	cr_assert_neq(lnk & LNKSTA_NLW, 0, "negotiated width");
	cr_assert_eq(sltsta() & SLTSTA_PFD, 0, "no power fault");
	slot_cmd(0x0100 | 0x00c0, SLTCTL_PIC | 0x00c0); /* power indicator on, attention off */
}

Test(pcie_port, linux_pciehp_sequence_repeats)
{
	linux_probe();
	for (unsigned int round = 0; round < 3; round++) {
		unsigned int m = msis;

		cr_assert_eq(pcie_port_plug(&port, &card), 0);
		cr_assert_eq(msis, m + 1);
		cr_assert_eq(linux_isr(), SLTSTA_PDC | SLTSTA_DLLSC);
		linux_enable_slot();
		cr_assert(power_on);

		cr_assert_eq(pcie_port_request_unplug(&port), 0);
		cr_assert_eq(msis, m + 2);
		cr_assert_eq(linux_isr(), SLTSTA_ABP);
		cr_assert_not(dark, "blinking");
		/* five seconds later: pciehp_disable_slot() */
		power_slot(false);
		cr_assert_not(power_on);
		cr_assert_not(dark, "power off comes before the indicator");
		/* remove_board(): msleep(1000), then the power indicator off: done with the slot */
		slot_cmd(0x0300, SLTCTL_PIC);
		cr_assert(dark);
		cr_assert_eq(indicators, 2 * round + 2, "one call per change: on (blinking), off");
		cr_assert_eq(pcie_port_remove(&port), 0);
		cr_assert_eq(msis, m + 3);
		cr_assert_eq(linux_isr(), SLTSTA_PDC | SLTSTA_DLLSC);
		cr_assert_eq(sltsta() & SLTSTA_PDS, 0);
	}
	cr_assert_eq(msi_addr, MSI_ADDR);
	cr_assert_eq(msi_data, MSI_DATA);
}

static atomic_bool stop_reader;
static atomic_uint odd_read; /* criterion asserts only on the test's own thread */

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_reader)) {
		uint32_t v = rd(BUS, 0, 0, 0, 4);
		if (v != 0xffffffffu && v != 0x10411af4)
			atomic_store(&odd_read, v);
	}
	return NULL;
}

Test(pcie_port, plug_and_remove_race_config_reads)
{
	pthread_t t;

	/* Only the reader touches the address register once it runs. */
	power_slot(true);
	cr_assert_eq(pthread_create(&t, NULL, reader, NULL), 0);
	for (unsigned int i = 0; i < 2000; i++) {
		cr_assert_eq(pcie_port_plug(&port, &card), 0);
		cr_assert_eq(pcie_port_remove(&port), 0);
	}
	atomic_store(&stop_reader, true);
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&odd_read), 0, "read %08x", atomic_load(&odd_read));
}
