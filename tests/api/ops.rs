use sunfleet_tests::spawn_app;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await, (200, "ok".to_string()));
    assert_eq!(app.get("/readyz").await, (200, "ready".to_string()));
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404() {
    let app = spawn_app().await;
    let (status, body) = app.post_fn("/api/no-such-function", &[]).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "endpoint_not_found");
}

#[tokio::test]
async fn a_server_function_call_without_its_arguments_is_a_422() {
    let app = spawn_app().await;
    let (status, body) = app.post_fn("/api/device", &[("bogus", "1")]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "validation_failed");
    assert!(body["message"].as_str().unwrap().contains("id"), "{body}");
}
