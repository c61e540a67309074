def test_register_login_me(client):
    r = client.post("/users/register", json={"username": "alice", "phone_number": "13800000001",
                                             "password": "password123"})
    assert r.status_code == 201, r.json
    r = client.post("/users/login", json={"username": "alice", "password": "password123"})
    assert r.status_code == 200, r.json
    token = r.json["access_token"]
    r = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json["username"] == "alice"
    assert "password_hash" not in r.json
