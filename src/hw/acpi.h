/*
 * ACPI: the tables PC firmware leaves in memory to describe the machine
 * (RSDP, RSDT, XSDT, FADT, FACS, MADT and a DSDT), and the ACPI power
 * management registers they point at (PM1 event and control blocks, the
 * PM timer: src/hw/acpi_pm.c).
 */
#ifndef LGUEST_HW_ACPI_H
#define LGUEST_HW_ACPI_H

#include "../machine.h"

/* Where the tables go: the BIOS area, reserved in the e820 map, which is
 * where Linux and kvm-unit-tests scan for the RSDP ("RSD PTR ").  The
 * RSDP is first; boot_params.acpi_rsdp_addr points at it too. */
#define ACPI_TABLES_ADDR	0x000e0000u
#define ACPI_TABLES_END		0x00100000u
#define ACPI_RSDP_ADDR		ACPI_TABLES_ADDR

/* The ACPI hardware the FADT describes. */
#define ACPI_SCI_IRQ		9
#define ACPI_PM_BASE		0x600	/* PM1a_EVT, then CNT, then TMR */
#define ACPI_PM1_EVT		(ACPI_PM_BASE + 0)
#define ACPI_PM1_CNT		(ACPI_PM_BASE + 4)
#define ACPI_PM_TMR		(ACPI_PM_BASE + 8)
#define ACPI_PM_LEN		12
#define ACPI_PM_TMR_HZ		3579545u
/* The SLP_TYP of S5 (soft off) in the DSDT's \_S5. */
#define ACPI_S5_TYP		5

/* Writes the tables into guest RAM (which must reach ACPI_TABLES_END). */
void acpi_build_tables(struct machine *m);

/* The PM registers on their ports: the PM timer, and PM1 control, whose
 * S5 request powers the machine off (status 0). */
void acpi_pm_new(struct machine *m);

#endif
