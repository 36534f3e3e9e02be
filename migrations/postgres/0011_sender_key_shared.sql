-- The devices that hold our current sender key, by group: they get no
-- sender key distribution message before our next group message. A new
-- key (a member left or was removed) empties its group's rows.
CREATE TABLE sender_key_shared (
    session  TEXT NOT NULL,
    group_id TEXT NOT NULL,
    device   TEXT NOT NULL,
    PRIMARY KEY (session, group_id, device)
);
