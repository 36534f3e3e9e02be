//! The ClientPayload sent in the handshake finish: a login for a linked
//! device, a registration for a new one.

use blacksky_proto::Message;
use blacksky_proto::wa::client_payload::{
    self, DevicePairingRegistrationData, UserAgent, WebInfo, user_agent,
};
use blacksky_proto::wa::{ClientPayload, DeviceProps, device_props};
use md5::{Digest, Md5};

use crate::crypto::KEY_TYPE_DJB;
use crate::session::{AppVersion, Creds, Me};

/// How this companion shows up under "Linked devices" on the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Browser {
    /// The OS name the phone shows, e.g. "blacksky".
    pub os: String,
    /// One of DeviceProps.PlatformType (Chrome = 1 … Desktop = 7).
    pub platform_type: i32,
}

impl Default for Browser {
    fn default() -> Self {
        Browser {
            os: "blacksky".into(),
            platform_type: device_props::PlatformType::Chrome as i32,
        }
    }
}

fn user_agent(version: AppVersion) -> UserAgent {
    let [primary, secondary, tertiary] = version.0;
    UserAgent {
        platform: Some(user_agent::Platform::Web as i32),
        app_version: Some(blacksky_proto::wa::AppVersion {
            primary: Some(primary),
            secondary: Some(secondary),
            tertiary: Some(tertiary),
            ..Default::default()
        }),
        mcc: Some("000".into()),
        mnc: Some("000".into()),
        os_version: Some("0.1".into()),
        device: Some("Desktop".into()),
        os_build_number: Some("0.1".into()),
        release_channel: Some(user_agent::ReleaseChannel::Release as i32),
        locale_language_iso639_1: Some("en".into()),
        locale_country_iso3166_1_alpha2: Some("US".into()),
        ..Default::default()
    }
}

fn base(version: AppVersion) -> ClientPayload {
    ClientPayload {
        user_agent: Some(user_agent(version)),
        web_info: Some(WebInfo {
            web_sub_platform: Some(client_payload::web_info::WebSubPlatform::WebBrowser as i32),
            ..Default::default()
        }),
        connect_type: Some(client_payload::ConnectType::WifiUnknown as i32),
        connect_reason: Some(client_payload::ConnectReason::UserActivated as i32),
        ..Default::default()
    }
}

/// The payload of a linked device logging in.
pub fn login(me: &Me, version: AppVersion) -> Vec<u8> {
    ClientPayload {
        username: me.jid.user().parse().ok(),
        device: me.jid.device().map(u32::from),
        passive: Some(true),
        pull: Some(true),
        ..base(version)
    }
    .encode_to_vec()
}

/// The payload of a new device asking to be linked.
pub fn registration(creds: &Creds, version: AppVersion, browser: &Browser) -> Vec<u8> {
    let props = DeviceProps {
        os: Some(browser.os.clone()),
        version: Some(blacksky_proto::wa::AppVersion {
            primary: Some(10),
            secondary: Some(15),
            tertiary: Some(7),
            ..Default::default()
        }),
        platform_type: Some(browser.platform_type),
        require_full_sync: Some(false),
    };
    let spk = &creds.signed_pre_key;
    ClientPayload {
        passive: Some(false),
        pull: Some(false),
        device_pairing_data: Some(DevicePairingRegistrationData {
            build_hash: Some(Md5::digest(version.to_string()).to_vec()),
            device_props: Some(props.encode_to_vec()),
            e_regid: Some(u32::from(creds.registration_id).to_be_bytes().to_vec()),
            e_keytype: Some(vec![KEY_TYPE_DJB]),
            e_ident: Some(creds.identity_key.public().to_vec()),
            e_skey_id: Some(spk.id.to_be_bytes()[1..].to_vec()),
            e_skey_val: Some(spk.key_pair.public().to_vec()),
            e_skey_sig: Some(spk.signature.to_vec()),
        }),
        ..base(version)
    }
    .encode_to_vec()
}
