use sunfleet_tests::spawn_app;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await, (200, "ok".to_string()));
    assert_eq!(app.get("/readyz").await, (200, "ready".to_string()));
}
