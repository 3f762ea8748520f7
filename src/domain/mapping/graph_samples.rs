//! Every availability / activity pair that Microsoft's documents show (collected with their sources
//! in research/graph.md), mapped by the default rules as the product's table says.

use super::*;
use crate::domain::SwyxStatus::{Available, Away, DoNotDisturb, Speaking};
use MappedStatus::{NoSync, Swyx};

/// (availability, activity, out of office, where Graph documents the pair, what Swyx shows).
const DOCUMENTED: &[(&str, &str, bool, &str, MappedStatus)] = &[
    // "Manage presence state": the Teams state → Graph table.
    (
        "Available",
        "Available",
        false,
        "S2 Available",
        Swyx(Available),
    ),
    (
        "Available",
        "OutOfOffice",
        false,
        "S2 Available, OOF",
        Swyx(Available),
    ),
    ("Busy", "Busy", false, "S2 Busy", Swyx(Away)),
    ("Busy", "InACall", false, "S2 In a call", Swyx(Speaking)),
    ("Busy", "InAMeeting", false, "S2 In a meeting", Swyx(Away)),
    ("Busy", "InACall", true, "S2 In a call, OOF", Swyx(Speaking)),
    (
        "DoNotDisturb",
        "DoNotDisturb",
        false,
        "S2 Do not disturb",
        Swyx(DoNotDisturb),
    ),
    (
        "DoNotDisturb",
        "Presenting",
        false,
        "S2 Presenting",
        Swyx(Speaking),
    ),
    ("Away", "Away", false, "S2 Away", Swyx(Away)),
    (
        "BeRightBack",
        "BeRightBack",
        false,
        "S2 Be right back",
        Swyx(Away),
    ),
    ("Offline", "OffWork", false, "S2 Appear offline", Swyx(Away)),
    (
        "OutOfOffice",
        "OutOfOffice",
        false,
        "S2 Out of office",
        NoSync,
    ),
    // The same table on the newest pages, in lower camel case.
    (
        "available",
        "outOfOffice",
        false,
        "S2 (newest)",
        Swyx(Available),
    ),
    (
        "beRightBack",
        "beRightBack",
        false,
        "S2 (newest)",
        Swyx(Away),
    ),
    ("offline", "offWork", false, "S2 (newest)", Swyx(Away)),
    // "Manage presence state": an Available app session fading, then timed out.
    (
        "Available",
        "AvailableInactive",
        false,
        "S2 timeout",
        Swyx(Away),
    ),
    // setPresence's supported combinations.
    ("Busy", "InAConferenceCall", false, "S3", Swyx(Speaking)),
    // clearPresence of the only session; an expired session.
    ("Offline", "Offline", false, "S5", NoSync),
    // Get presence samples, the third reporting Be right back as Away / BeRightBack.
    (
        "Available",
        "Available",
        false,
        "S8 sample 1",
        Swyx(Available),
    ),
    (
        "DoNotDisturb",
        "Presenting",
        false,
        "S8 sample 2",
        Swyx(Speaking),
    ),
    ("Away", "BeRightBack", false, "S8 sample 3", Swyx(Away)),
    // getPresencesByUserId sample.
    ("Busy", "InAMeeting", false, "S7", Swyx(Away)),
    ("Away", "Away", false, "S7", Swyx(Away)),
    // Focusing, as a Microsoft Q&A answer says Graph reports it, and as the newest list names it.
    (
        "DoNotDisturb",
        "DoNotDisturb",
        false,
        "Q&A Focusing",
        Swyx(DoNotDisturb),
    ),
    (
        "Focusing",
        "Focusing",
        false,
        "S1 (newest) focusing",
        Swyx(DoNotDisturb),
    ),
    (
        "DoNotDisturb",
        "UrgentInterruptionsOnly",
        false,
        "S1",
        Swyx(DoNotDisturb),
    ),
    // The older enumerations' idle and unknown values.
    ("AvailableIdle", "Available", false, "S1", Swyx(Away)),
    ("BusyIdle", "Busy", false, "S1", Swyx(Away)),
    ("Away", "Inactive", false, "S1", Swyx(Away)),
    ("PresenceUnknown", "PresenceUnknown", false, "S1", NoSync),
];

#[test]
fn every_pair_graph_documents_maps_as_the_product_table_says() {
    let rules = MappingRules::default();
    for (availability, activity, oof, source, want) in DOCUMENTED {
        let presence = TeamsPresence::new(availability, activity).with_out_of_office(*oof);
        assert_eq!(
            rules.map(&presence),
            *want,
            "{availability} / {activity} (oof {oof}), documented in {source}"
        );
    }
}
