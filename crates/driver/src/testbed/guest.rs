//! The OS-less test guest (`crates/driver/guest/dirty.S`): a boot sector that dirties N pages per
//! timer tick and prints to the serial port, parameterised by patching its image.

/// The assembled boot sector (committed, so builds need no assembler).
pub const IMAGE: &[u8; 512] = include_bytes!("../../guest/dirty.bin");

/// Byte offset of the parameter block (six little-endian u32 just before the 0x55AA signature).
pub const PARAMS_OFFSET: usize = 486;

/// The guest's knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestParams {
    /// First byte of the region it dirties.
    pub region_start: u32,
    /// End of that region (exclusive).
    pub region_end: u32,
    /// Pages written per timer tick (0 = idle).
    pub pages_per_tick: u32,
    /// Timer ticks between two serial characters.
    pub ticks_per_char: u32,
    /// PIT divisor (1193 = about 1 kHz).
    pub pit_divisor: u32,
    /// Pages up to here are written once at boot.
    pub prefill_end: u32,
}

impl Default for GuestParams {
    fn default() -> Self {
        GuestParams {
            region_start: 1 << 20,
            region_end: 64 << 20,
            pages_per_tick: 0,
            ticks_per_char: 100,
            pit_divisor: 1193,
            prefill_end: 1 << 20,
        }
    }
}

impl GuestParams {
    /// A guest dirtying `pages_per_s` pages per second over `[1 MiB, 1 MiB + region_mib)`, with
    /// the whole region written once at boot.
    pub fn dirtying(pages_per_s: u32, region_mib: u32) -> Self {
        let end = (1 + region_mib) << 20;
        GuestParams {
            region_end: end,
            pages_per_tick: pages_per_s / 1000,
            prefill_end: end,
            ..GuestParams::default()
        }
    }

    /// Timer frequency.
    pub fn tick_hz(&self) -> f64 {
        1_193_182.0 / self.pit_divisor.max(1) as f64
    }

    /// Pages dirtied per second.
    pub fn dirty_pages_per_s(&self) -> f64 {
        self.pages_per_tick as f64 * self.tick_hz()
    }

    /// Serial characters per second.
    pub fn chars_per_s(&self) -> f64 {
        self.tick_hz() / self.ticks_per_char.max(1) as f64
    }

    /// The patched boot image.
    pub fn image(&self) -> Vec<u8> {
        let mut img = IMAGE.to_vec();
        let vals = [
            self.region_start,
            self.region_end,
            self.pages_per_tick,
            self.ticks_per_char,
            self.pit_divisor,
            self.prefill_end,
        ];
        for (i, v) in vals.iter().enumerate() {
            let at = PARAMS_OFFSET + 4 * i;
            img[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        img
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_is_a_boot_sector_with_defaults_in_place() {
        assert_eq!(&IMAGE[510..512], &[0x55, 0xAA]);
        assert_eq!(
            GuestParams::default().image(),
            IMAGE.to_vec(),
            "defaults must match the committed bytes"
        );
    }

    #[test]
    fn patching_changes_only_the_block() {
        let img = GuestParams::dirtying(5000, 32).image();
        assert_eq!(&img[..PARAMS_OFFSET], &IMAGE[..PARAMS_OFFSET]);
        assert_eq!(
            u32::from_le_bytes(
                img[PARAMS_OFFSET + 8..PARAMS_OFFSET + 12]
                    .try_into()
                    .unwrap()
            ),
            5
        );
    }
}
