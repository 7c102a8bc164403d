/*
 * dirty.S - a 512-byte, OS-less x86 boot sector that dirties guest memory at a
 * controlled rate, for QEMU live-migration tests.  (QEMU's own migration tests
 * use the same idea.)  Build with ./build.sh; the committed dirty.bin is what
 * the tests use, so no assembler is needed to build the project.
 *
 * What it does
 *   - switches to flat 32-bit protected mode (no paging), remaps the PIC to
 *     0x20/0x28 with only IRQ0 unmasked, and runs the PIT at pit_divisor;
 *   - touches one byte in every 4 KiB page of [region_start, prefill_end);
 *   - on every timer tick writes one byte into each of the next
 *     pages_per_tick pages of [region_start, region_end), wrapping around,
 *     so the dirty rate is pages_per_tick * tick_rate pages/s;
 *   - every ticks_per_char ticks writes one byte to COM1 (0x3F8), cycling
 *     'a' 'b' ... 'z' '\n' (27 bytes per line).  A test can count bytes for
 *     the rate and check that the sequence continues without a gap after a
 *     migration (the destination's first byte follows the source's last);
 *   - a CPU exception writes '!' to COM1 and stops the CPU for good.
 *
 * Parameter block: little-endian u32s at fixed offsets in the image, ending
 * right before the 0x55 0xAA signature at 510.  Tests patch a copy of the image.
 *
 *   offset        name            default      meaning
 *   486 (0x1E6)   region_start    0x00100000   first byte of the dirtied region
 *   490 (0x1EA)   region_end      0x04000000   end (exclusive) of the region
 *   494 (0x1EE)   pages_per_tick  0            N pages written per tick, 0 = idle
 *   498 (0x1F2)   ticks_per_char  100          K ticks per serial byte, 0 = none
 *   502 (0x1F6)   pit_divisor     1193         PIT input 1193182 Hz / divisor
 *                                              (low 16 bits used; 0 = 65536)
 *   506 (0x1FA)   prefill_end     0x00100000   touch pages [region_start, this)
 *                                              once at boot; = region_start: none
 *
 * Memory this code itself uses (keep the region out of it, i.e. >= 1 MiB):
 *   0x1000-0x117F IDT, 0x7000-0x7BFF stack (grows down from 0x7C00),
 *   0x7C00-0x7DFF this sector.
 */

        .intel_syntax noprefix

        .equ    IDT_BASE,     0x1000
        .equ    IDT_VECTORS,  0x30          /* exceptions + both PICs' vectors */
        .equ    STACK_TOP,    0x7c00
        .equ    COM1,         0x3f8
        .equ    CODE_SEL,     0x08
        .equ    DATA_SEL,     0x10
        .equ    PAGE,         4096

        .text
        .globl  _start

/* ------------------------------------------------------------------ 16-bit */
        .code16
_start:
        cli
        cld
        /* BIOSes may enter at 07C0:0000 rather than 0000:7C00; the linked
         * addresses assume CS=0, so normalise before using any of them. */
        ljmp    0, OFFSET real_start
real_start:
        xor     ax, ax
        mov     ds, ax
        mov     ss, ax
        mov     sp, STACK_TOP

        /* Fast A20 (port 0x92).  Bit 0 is a CPU reset, so only ever clear it. */
        in      al, 0x92
        or      al, 2
        and     al, 0xfe
        out     0x92, al

        lgdt    [gdt_desc]
        mov     eax, cr0
        or      al, 1
        mov     cr0, eax
        /* The far jump loads CS from the new GDT and flushes the prefetch
         * queue of 16-bit decoded instructions. */
        ljmp    CODE_SEL, OFFSET pm_start

/* ------------------------------------------------------------------ 32-bit */
        .code32
pm_start:
        mov     ax, DATA_SEL
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax
        mov     esp, STACK_TOP

        /* IDT: vectors 0x00-0x1F (CPU exceptions) -> fatal, 0x20 -> timer,
         * 0x21-0x2F -> ignore (masked PIC lines; only a spurious IRQ7/15 could
         * ever arrive there, and those must not be acknowledged).  Nothing
         * above 0x2F can be raised, so the table stops there.  Every gate is
         * a present, DPL0, 32-bit interrupt gate (0x8E00); all handlers live
         * below 64 KiB, so the high offset word is 0. */
        mov     edi, IDT_BASE
        mov     eax, OFFSET fatal + (CODE_SEL << 16)
        mov     edx, 0x8e00
        xor     ecx, ecx
idt_fill:
        cmp     cl, 0x20
        jne     1f
        mov     ax, OFFSET ignore
1:      stosd
        xchg    eax, edx
        stosd
        xchg    eax, edx
        inc     ecx
        cmp     cl, IDT_VECTORS
        jb      idt_fill
        mov     word ptr [IDT_BASE + 0x20 * 8], OFFSET timer
        lidt    [idt_desc]

        /* PIC: move IRQs off the exception vectors (the BIOS leaves the
         * master at 0x08), then mask everything but IRQ0. */
        mov     al, 0x11                /* ICW1: edge, cascade, ICW4 follows */
        out     0x20, al
        out     0xa0, al
        mov     al, 0x20                /* ICW2: vector bases */
        out     0x21, al
        mov     al, 0x28
        out     0xa1, al
        mov     al, 0x04                /* ICW3: slave on IRQ2 */
        out     0x21, al
        mov     al, 0x02
        out     0xa1, al
        mov     al, 0x01                /* ICW4: 8086 mode, normal EOI */
        out     0x21, al
        out     0xa1, al
        mov     al, 0xfe
        out     0x21, al
        mov     al, 0xff
        out     0xa1, al

        /* Prefill before the timer is reprogrammed so that it does not eat
         * into the first tick period.  The value is non-zero so QEMU cannot
         * send these as zero pages. */
        mov     bl, 1
        mov     edi, [p_region_start]
prefill:
        cmp     edi, [p_prefill_end]
        jae     prefill_done
        mov     [edi], bl
        add     edi, PAGE
        jmp     prefill
prefill_done:

        /* PIT channel 0, lobyte/hibyte, mode 2 (rate generator), binary. */
        mov     al, 0x34
        out     0x43, al
        mov     eax, [p_pit_divisor]
        out     0x40, al
        mov     al, ah
        out     0x40, al

        /* Main loop state, all in registers:
         *   edi = cursor (next page to write), bl = value for this pass,
         *   bh  = next serial byte, esi = ticks left until the next byte. */
        mov     edi, [p_region_start]
        inc     bl                      /* first pass differs from prefill */
        mov     bh, 'a'
        mov     esi, [p_ticks_per_char]

main_loop:
        /* sti's one-instruction interrupt shadow makes "sti; hlt" atomic, so
         * a tick cannot slip in between and leave us halted for a period. */
        sti
        hlt
        /* Work with interrupts off: a tick that arrives meanwhile stays
         * pending in the PIC and ends the next hlt at once instead of being
         * swallowed, so slow ticks delay the rate rather than drop it. */
        cli

        mov     ecx, [p_pages_per_tick]
        jecxz   dirty_done
dirty:
        mov     [edi], bl
        add     edi, PAGE
        cmp     edi, [p_region_end]
        jb      1f
        mov     edi, [p_region_start]
        /* New pass: change the value so each revisit changes the page's
         * contents (matters for XBZRLE/compression).  Skip 0 so a page
         * touched only here never turns back into a zero page. */
        inc     bl
        jnz     1f
        inc     bl
1:      loop    dirty
dirty_done:

        /* K = 0 makes dec wrap to 2^32 - 1: effectively never. */
        dec     esi
        jnz     main_loop
        mov     esi, [p_ticks_per_char]
        mov     al, bh
        call    putc
        /* 'a'..'z', then '\n', then 'a' again. */
        cmp     bh, 'z'
        je      2f
        cmp     bh, '\n'
        jne     1f
        mov     bh, 'a' - 1
1:      inc     bh
        jmp     main_loop
2:      mov     bh, '\n'
        jmp     main_loop

/* Write al to COM1.  Waits for the transmitter holding register to be empty;
 * QEMU's UART needs no baud-rate setup.  With no UART the port reads 0xFF, so
 * the wait ends at once.  Clobbers dx. */
putc:
        push    eax
        mov     dx, COM1 + 5            /* line status register */
1:      in      al, dx
        test    al, 0x20                /* THR empty */
        jz      1b
        pop     eax
        mov     dx, COM1
        out     dx, al
        ret

/* IRQ0: only acknowledge; the work happens in main_loop after hlt returns. */
timer:
        push    eax
        mov     al, 0x20                /* non-specific EOI to the master */
        out     0x20, al
        pop     eax
ignore:
        iret

/* Any CPU exception is a bug in this file or a bad parameter: report it once
 * and stop, rather than looping on the faulting instruction or triple-faulting
 * (which would reboot and look like a working guest). */
fatal:
        mov     al, '!'
        call    putc
1:      cli
        hlt
        jmp     1b

/* -------------------------------------------------------------------- data */
        .p2align 3
gdt:
        .quad   0                       /* null descriptor */
        .quad   0x00cf9a000000ffff      /* 0x08: code, base 0, 4 GiB, 32-bit */
        .quad   0x00cf92000000ffff      /* 0x10: data, base 0, 4 GiB, 32-bit */
gdt_end:
gdt_desc:
        .word   gdt_end - gdt - 1
        .long   gdt
idt_desc:
        .word   IDT_VECTORS * 8 - 1
        .long   IDT_BASE

/* ---------------------------------------------------------- parameter block */
        .org    486
p_region_start:   .long 0x00100000
p_region_end:     .long 0x04000000
p_pages_per_tick: .long 0
p_ticks_per_char: .long 100
p_pit_divisor:    .long 1193
p_prefill_end:    .long 0x00100000

        .org    510
        .byte   0x55, 0xaa

        .section .note.GNU-stack, "", @progbits
