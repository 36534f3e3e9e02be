//! blacksky-sim: the fake WhatsApp server and the chaos harness.
