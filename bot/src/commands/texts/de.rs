//! Die deutschen Texte. Jeder Schlüssel steht auch in `en.rs`, mit
//! denselben Platzhaltern (ein Test prüft es).

use super::Table;

pub const TABLE: Table = &[
    // The server's refusal of a group change.
    (
        "effect.not_admin",
        "Laut WhatsApp bin ich in dieser Gruppe kein Admin, daher ist das nicht passiert.",
    ),
    (
        "effect.people_refused",
        "WhatsApp hat das für {users} nicht getan.",
    ),
    ("effect.refused", "WhatsApp hat das abgelehnt: {reason}."),
    // Fehler und Ablehnungen.
    ("usage", "So geht's: {usage}"),
    ("arg.not_a_number", "„{got}“ ist keine ganze Zahl."),
    ("arg.not_a_choice", "„{got}“ ist nicht eins von: {choices}."),
    (
        "arg.no_user",
        "Nenne jemanden: erwähne ihn, schreib seine Nummer oder antworte auf seine Nachricht.",
    ),
    (
        "arg.no_quote",
        "Antworte mit diesem Befehl auf eine Nachricht.",
    ),
    ("arg.too_long", "Das ist zu lang: höchstens {max} Zeichen."),
    (
        "refused.owner",
        "Nur der Besitzer des Bots darf {command} benutzen.",
    ),
    (
        "refused.admin",
        "Nur Gruppen-Admins dürfen {command} benutzen.",
    ),
    ("refused.groups_only", "{command} geht nur in Gruppen."),
    (
        "refused.bot_not_admin",
        "Mach mich zuerst zum Gruppen-Admin: {command} braucht das.",
    ),
    (
        "refused.group_unknown",
        "Ich kenne die Mitglieder dieser Gruppe noch nicht; versuch es gleich noch einmal.",
    ),
    (
        "cooldown",
        "{command} pausiert in diesem Chat für eine Minute.",
    ),
    (
        "unknown_command",
        "{command} kenne ich nicht. {menu} zeigt, was ich kann.",
    ),
    // Werte.
    (
        "settings.full",
        "Ich kann keine weiteren Einstellungen speichern: zu viele Gruppen haben eigene.",
    ),
    ("value.unknown", "unbekannt"),
    ("value.never", "nie"),
    ("state.online", "online"),
    ("state.offline", "offline"),
    ("lang.name", "Deutsch"),
    // Menü und Hilfe.
    ("category.general", "Allgemein"),
    ("category.info", "Info"),
    ("category.fun", "Spaß"),
    ("category.group", "Gruppen-Admins"),
    ("category.owner", "Besitzer"),
    ("menu.title", "*Befehle* (beginnen mit {prefixes})"),
    ("menu.footer", "{help} erklärt einen."),
    ("menu.help", "Zeigt die Befehle."),
    ("menu.usage", "{prefix}menu"),
    ("help.help", "Erklärt einen Befehl oder zeigt alle."),
    ("help.usage", "{prefix}help [Befehl]"),
    ("help.aliases", "Auch: {aliases}"),
    ("help.who.everyone", "Für alle."),
    ("help.who.admin", "Für Gruppen-Admins."),
    ("help.who.owner", "Für den Besitzer."),
    ("help.unknown", "Einen Befehl {command} gibt es nicht."),
    // Alle.
    (
        "ping.help",
        "Sagt, wie lange deine Nachricht zu mir gebraucht hat.",
    ),
    ("ping.usage", "{prefix}ping"),
    ("ping.pong", "Pong! {ms} ms"),
    ("alive.help", "Sagt, ob ich laufe."),
    ("alive.usage", "{prefix}alive"),
    (
        "alive.text",
        "Ich lebe und höre zu. Seit {uptime} in Betrieb.",
    ),
    ("uptime.help", "Wie lange ich schon laufe."),
    ("uptime.usage", "{prefix}uptime"),
    (
        "uptime.online",
        "Seit {uptime} in Betrieb; seit {online} online.",
    ),
    (
        "uptime.offline",
        "Seit {uptime} in Betrieb; gerade offline.",
    ),
    (
        "stats.help",
        "Nachrichten, Laufzeit, Speicher und Neuverbindungen.",
    ),
    ("stats.usage", "{prefix}stats"),
    // Reaktionen und Sticker.
    (
        "reaction.help",
        "Ein Reaktions-GIF, an jemanden (Erwähnung oder Antwort) oder allein.",
    ),
    ("reaction.usage", "{prefix}{command} [@jemand]"),
    (
        "sticker.help",
        "Macht das Bild, auf das du antwortest (oder mit dem du es als Bildtext sendest), zum Sticker.",
    ),
    (
        "sticker.usage",
        "{prefix}sticker (als Antwort auf ein Bild)",
    ),
    (
        "sticker.no_image",
        "Antworte mit diesem Befehl auf ein Bild, oder sende ein Bild mit ihm als Bildtext.",
    ),
    ("sticker.not_image", "Nur Bilder können Sticker werden."),
    (
        "sticker.too_large",
        "Das Bild ist für einen Sticker zu groß: höchstens {max}.",
    ),
    (
        "sticker.unreadable",
        "Ich konnte das Bild nicht lesen; sende es noch einmal, als JPEG, PNG oder WebP.",
    ),
    (
        "stats.text",
        "Nachrichten: {in} empfangen, {out} gesendet\nLaufzeit: {uptime}\nSpeicher: {memory}\nNeuverbindungen: {reconnects}",
    ),
    ("owner.help", "Wer diesen Bot betreibt."),
    ("owner.usage", "{prefix}owner"),
    ("owner.text", "Mein Besitzer: {owners}"),
    ("owner.none", "Es ist keine Besitzer-Nummer eingestellt."),
    // Der Besitzer.
    ("restart.help", "Sichert alles und startet neu."),
    ("restart.usage", "{prefix}restart"),
    ("restart.text", "Starte neu: gleich bin ich wieder da."),
    ("backup.help", "Legt jetzt eine Sicherung an."),
    ("backup.usage", "{prefix}backup"),
    ("backup.started", "Lege eine Sicherung an…"),
    ("backup.done", "Sicherung {generation} gespeichert."),
    (
        "session.help",
        "Verbindung, Speicher, letzte Sicherung und übrige Pre-Keys.",
    ),
    ("session.usage", "{prefix}session"),
    (
        "session.text",
        "Verbindung: {state}\nSpeicher: {store}\nLetzte Sicherung: {backup}\nÜbrige Pre-Keys: {prekeys}",
    ),
    ("session.backup", "#{generation}, vor {ago}"),
    (
        "broadcast.help",
        "Schickt einen Text an alle meine Gruppen.",
    ),
    ("broadcast.usage", "{prefix}broadcast <Text>"),
    ("broadcast.done", "Ich schicke es an alle meine Gruppen."),
    (
        "block.help",
        "Blockiert jemanden: ich höre nichts mehr von ihm.",
    ),
    ("block.usage", "{prefix}block @jemand"),
    ("block.done", "{users} blockiert."),
    ("unblock.help", "Hebt eine Blockierung auf."),
    ("unblock.usage", "{prefix}unblock @jemand"),
    ("unblock.done", "{users} nicht mehr blockiert."),
    (
        "block.protected",
        "Meinen Besitzer und mich selbst blockiere ich nicht.",
    ),
    (
        "leave.help",
        "Ich verabschiede mich und verlasse diese Gruppe.",
    ),
    ("leave.usage", "{prefix}leave"),
    ("leave.text", "Tschüss, alle zusammen!"),
    (
        "setprefix.help",
        "Legt die Zeichen fest, mit denen Befehle beginnen.",
    ),
    ("setprefix.usage", "{prefix}setprefix <Zeichen>"),
    ("setprefix.done", "Befehle beginnen jetzt mit {prefixes}."),
    (
        "setprefix.bad",
        "„{got}“ geht nicht als Präfix: 1 bis 8 Zeichen wie . ! / #, keine Buchstaben, Ziffern oder Leerzeichen.",
    ),
    (
        "lang.help",
        "Legt meine Sprache fest; in einer Gruppe die der Gruppe.",
    ),
    ("lang.usage", "{prefix}lang en|de|default"),
    ("lang.done_bot", "Ich spreche jetzt Deutsch."),
    (
        "lang.done_group",
        "Diese Gruppe bekommt von mir jetzt Deutsch.",
    ),
    // Gruppen-Admins.
    ("kick.help", "Entfernt Leute aus der Gruppe."),
    (
        "kick.usage",
        "{prefix}kick @jemand (oder auf ihn antworten)",
    ),
    ("kick.done", "Entferne {users}."),
    ("add.help", "Fügt Leute zur Gruppe hinzu."),
    ("add.usage", "{prefix}add <Nummer>"),
    ("add.done", "Füge {users} hinzu."),
    ("promote.help", "Macht Leute zu Gruppen-Admins."),
    (
        "promote.usage",
        "{prefix}promote @jemand (oder auf ihn antworten)",
    ),
    ("promote.done", "Mache {users} zum Admin."),
    ("demote.help", "Nimmt Admin-Rechte weg."),
    (
        "demote.usage",
        "{prefix}demote @jemand (oder auf ihn antworten)",
    ),
    ("demote.done", "Nehme {users} die Admin-Rechte."),
    (
        "members.protected",
        "Meinen Besitzer und mich selbst lasse ich aus.",
    ),
    ("tagall.help", "Erwähnt alle in der Gruppe."),
    ("tagall.usage", "{prefix}tagall [Text]"),
    ("tagall.default", "Achtung, alle zusammen!"),
    ("link.help", "Schickt den Einladungslink der Gruppe."),
    ("link.usage", "{prefix}link"),
    ("link.text", "Einladungslink: {link}"),
    (
        "revoke.help",
        "Macht einen neuen Einladungslink; der alte geht nicht mehr.",
    ),
    ("revoke.usage", "{prefix}revoke"),
    ("revoke.text", "Neuer Einladungslink: {link}"),
    ("mute.help", "Nur Admins können schreiben."),
    ("mute.usage", "{prefix}mute"),
    ("mute.done", "Jetzt können nur Admins schreiben."),
    ("unmute.help", "Alle können wieder schreiben."),
    ("unmute.usage", "{prefix}unmute"),
    ("unmute.done", "Jetzt können alle schreiben."),
    ("setname.help", "Benennt die Gruppe um."),
    ("setname.usage", "{prefix}setname <Name>"),
    ("setname.done", "Die Gruppe hat einen neuen Namen."),
    ("setdesc.help", "Legt die Beschreibung der Gruppe fest."),
    ("setdesc.usage", "{prefix}setdesc <Text>"),
    ("setdesc.done", "Die Gruppe hat eine neue Beschreibung."),
    (
        "lock.help",
        "Nur Admins können Name, Bild und Beschreibung der Gruppe ändern.",
    ),
    ("lock.usage", "{prefix}lock"),
    (
        "lock.done",
        "Jetzt können nur Admins die Gruppeninfo ändern.",
    ),
    ("unlock.help", "Alle können die Gruppeninfo ändern."),
    ("unlock.usage", "{prefix}unlock"),
    ("unlock.done", "Jetzt können alle die Gruppeninfo ändern."),
    (
        "welcome.help",
        "Begrüßt neue Mitglieder; der Text kann {user} und {group} enthalten.",
    ),
    ("welcome.usage", "{prefix}welcome on|off|text [Text]"),
    ("welcome.on", "Neue Mitglieder werden begrüßt."),
    ("welcome.off", "Neue Mitglieder werden nicht begrüßt."),
    ("welcome.default", "Willkommen in {group}, {user}!"),
    (
        "goodbye.help",
        "Verabschiedet Mitglieder, die gehen; der Text kann {user} und {group} enthalten.",
    ),
    ("goodbye.usage", "{prefix}goodbye on|off|text [Text]"),
    ("goodbye.on", "Ich verabschiede Mitglieder, die gehen."),
    ("goodbye.off", "Ich verabschiede niemanden mehr."),
    ("goodbye.default", "Tschüss, {user}."),
    (
        "greeting.saved",
        "Gespeichert. So wird er lauten:\n{preview}",
    ),
    ("greeting.reset", "Wieder der Standardtext:\n{preview}"),
    (
        "greeting.bad_placeholder",
        "Nur {user} und {group} werden ersetzt, nicht {got}.",
    ),
    (
        "antilink.help",
        "Löscht Einladungslinks zu anderen Gruppen und verwarnt den Absender.",
    ),
    ("antilink.usage", "{prefix}antilink on|off"),
    (
        "antilink.on",
        "Einladungslinks zu anderen Gruppen werden gelöscht.",
    ),
    ("antilink.off", "Einladungslinks sind wieder erlaubt."),
    (
        "antilink.warn",
        "{user}, Links zu anderen Gruppen sind hier nicht erlaubt.",
    ),
];
