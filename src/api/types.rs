//! Typed requests and answers of every endpoint. Reading is tolerant, as the real service is not
//! always what its documentation prints: `data` or `Data`, `region` or `regoin`, `size` as a
//! number or a string, unknown fields ignored.

use serde::{Deserialize, Deserializer, Serialize};

use crate::secret::Secret;

#[derive(Debug, Serialize)]
pub struct EnvRequest<'a> {
    pub env: &'a str,
}

/// One static store, from `describestaticstore`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct StaticStore {
    #[serde(default)]
    pub env: String,
    /// Host name without scheme, e.g. `env-id-1304480914.tcloudbaseapp.com`.
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub bucket: String,
    #[serde(default, alias = "regoin")]
    pub region: String,
    #[serde(default)]
    pub status: String,
}

impl StaticStore {
    /// The site's address as a URL a person can open. A domain that already carries a scheme is
    /// kept as it is.
    pub fn url(&self) -> String {
        if self.domain.contains("://") {
            self.domain.clone()
        } else if self.domain.contains(".localhost") || self.domain.starts_with("127.") {
            format!("http://{}/", self.domain.trim_end_matches('/'))
        } else {
            format!("https://{}/", self.domain.trim_end_matches('/'))
        }
    }
}

/// The answer of `describestaticstore`: the environment's store, if it has one.
#[derive(Debug, Deserialize)]
pub struct DescribeStaticStoreAnswer {
    #[serde(default, alias = "Data", deserialize_with = "null_as_default")]
    pub data: Vec<StaticStore>,
}

#[derive(Debug, Serialize)]
pub struct UploadFileRequest<'a> {
    pub env: &'a str,
    pub filename: &'a str,
}

/// A signed upload link and the `x-cos-security-token` that goes with it.
#[derive(Clone, Debug, Deserialize)]
pub struct UploadLink {
    pub signed_url: String,
    #[serde(alias = "Token")]
    pub token: Secret,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

#[derive(Debug, Serialize)]
pub struct FileListRequest<'a> {
    pub env: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<&'a str>,
}

/// One object of the static store.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct RemoteFile {
    pub key: String,
    /// Lowercase hex MD5 of the object (quotes, if the service adds them, are removed).
    #[serde(default, deserialize_with = "md5_text")]
    pub md5: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub size: u64,
    #[serde(default)]
    pub last_modified: String,
}

#[derive(Debug, Deserialize)]
pub struct FileListPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub contents: Vec<RemoteFile>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_truncated: bool,
    #[serde(default, alias = "NextMarker")]
    pub next_marker: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EnvInfoRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<&'a str>,
}

/// One cloud environment, from `getenvinfo`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct EnvInfo {
    #[serde(default)]
    pub env: String,
    #[serde(default)]
    pub alias: String,
    #[serde(default)]
    pub create_time: String,
    #[serde(default)]
    pub update_time: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub package_id: String,
    #[serde(default)]
    pub package_name: String,
}

/// The answer of `getenvinfo`.
#[derive(Debug, Deserialize)]
pub struct EnvInfoAnswer {
    #[serde(default, deserialize_with = "null_as_default")]
    pub info_list: Vec<EnvInfo>,
}

#[derive(Debug, Serialize)]
pub struct ShareEnvRequest<'a> {
    pub data: Vec<ShareEnvItem<'a>>,
    /// Required by the API: 0 = cloud-development environment, 1 = cloud-hosting environment.
    pub source_type: u32,
}

#[derive(Debug, Serialize)]
pub struct ShareEnvItem<'a> {
    pub env: &'a str,
    pub appids: &'a [String],
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ShareError {
    #[serde(default)]
    pub env: String,
    #[serde(default)]
    pub appid: String,
    #[serde(default)]
    pub errmsg: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ShareConfirmation {
    #[serde(default)]
    pub appid: String,
    #[serde(default)]
    pub url: String,
}

#[derive(Debug, Deserialize)]
pub struct ShareEnvAnswer {
    #[serde(default, deserialize_with = "null_as_default")]
    pub err_list: Vec<ShareError>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub msg_info_list: Vec<ShareConfirmation>,
}

#[derive(Serialize)]
pub struct ComponentTokenRequest<'a> {
    pub component_appid: &'a str,
    pub component_appsecret: &'a str,
    pub component_verify_ticket: &'a str,
}

/// The answer of `api_component_token`.
#[derive(Debug, Deserialize)]
pub struct ComponentTokenAnswer {
    pub component_access_token: Secret,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub expires_in: u64,
}

#[derive(Serialize)]
pub struct AuthorizerTokenRequest<'a> {
    pub component_appid: &'a str,
    pub authorizer_appid: &'a str,
    pub authorizer_refresh_token: &'a str,
}

/// The answer of `api_authorizer_token`.
#[derive(Debug, Deserialize)]
pub struct AuthorizerTokenAnswer {
    pub authorizer_access_token: Secret,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub expires_in: u64,
    #[serde(default)]
    pub authorizer_refresh_token: Option<Secret>,
}

/// An answer with nothing beyond `errcode` and `errmsg`, e.g. that of `createstaticstore`.
#[derive(Debug, Deserialize)]
pub struct Empty {}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Option::<NumberOrText>::deserialize(d)? {
        None => Ok(0),
        Some(NumberOrText::Number(n)) => Ok(n),
        Some(NumberOrText::Text(t)) if t.trim().is_empty() => Ok(0),
        Some(NumberOrText::Text(t)) => t
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got {t:?}"))),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrText {
    Bool(bool),
    Number(u64),
    Text(String),
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Option::<BoolOrText>::deserialize(d)? {
        None => Ok(false),
        Some(BoolOrText::Bool(b)) => Ok(b),
        Some(BoolOrText::Number(n)) => Ok(n != 0),
        Some(BoolOrText::Text(t)) => match t.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "expected a boolean, got {other:?}"
            ))),
        },
    }
}

fn md5_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = Option::<String>::deserialize(d)?.unwrap_or_default();
    Ok(text.trim().trim_matches('"').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_accepts_both_spellings_of_data() {
        let upper: DescribeStaticStoreAnswer = serde_json::from_str(
            r#"{"errcode":0,"Data":[{"env":"e","domain":"d.example","bucket":"b","regoin":"ap-shanghai","status":"online","extra":1}]}"#,
        )
        .unwrap();
        let lower: DescribeStaticStoreAnswer = serde_json::from_str(
            r#"{"data":[{"env":"e","domain":"d.example","bucket":"b","region":"ap-shanghai","status":"online"}]}"#,
        )
        .unwrap();
        assert_eq!(upper.data, lower.data);
        assert_eq!(upper.data[0].region, "ap-shanghai");
        assert_eq!(upper.data[0].url(), "https://d.example/");
    }

    #[test]
    fn describe_without_data_is_empty() {
        let a: DescribeStaticStoreAnswer = serde_json::from_str(r#"{"errcode":0}"#).unwrap();
        assert!(a.data.is_empty());
        let a: DescribeStaticStoreAnswer = serde_json::from_str(r#"{"data":null}"#).unwrap();
        assert!(a.data.is_empty());
    }

    #[test]
    fn file_list_size_as_string_or_number_and_quoted_md5() {
        let page: FileListPage = serde_json::from_str(
            r#"{"contents":[{"key":"a","md5":"\"ABC\"","size":"12"},{"key":"b","md5":"def","size":7}],"is_truncated":"true"}"#,
        )
        .unwrap();
        assert_eq!(page.contents[0].size, 12);
        assert_eq!(page.contents[0].md5, "abc");
        assert_eq!(page.contents[1].size, 7);
        assert!(page.is_truncated);
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn file_list_rejects_non_numeric_size() {
        let err =
            serde_json::from_str::<FileListPage>(r#"{"contents":[{"key":"a","size":"big"}]}"#)
                .unwrap_err();
        assert!(err.to_string().contains("expected a number"), "{err}");
    }

    #[test]
    fn local_domain_gets_http() {
        let s = StaticStore {
            env: "e".into(),
            domain: "e.localhost:8790".into(),
            bucket: String::new(),
            region: String::new(),
            status: String::new(),
        };
        assert_eq!(s.url(), "http://e.localhost:8790/");
    }
}
