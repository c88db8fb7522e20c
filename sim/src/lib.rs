//! Switchyard's simulation side: the Lavalink v4 emulator, the turmoil world, scenarios
//! and the oracle.
