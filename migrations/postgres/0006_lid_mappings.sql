-- Contacts' LID users by phone-number user, learnt from stanzas that name
-- both: a contact's Signal sessions live under its LID once it is known,
-- whichever address its messages come from.
CREATE TABLE lid_mappings (
    session TEXT NOT NULL,
    pn      TEXT NOT NULL,
    lid     TEXT NOT NULL,
    PRIMARY KEY (session, pn)
);
